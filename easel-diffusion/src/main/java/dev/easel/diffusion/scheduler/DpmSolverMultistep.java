package dev.easel.diffusion.scheduler;

import dev.easel.diffusion.noise.NoiseSource;
import dev.easel.engine.tensor.FloatTensor;

/**
 * DPM-Solver++(2M) (Lu et al. 2022), midpoint form, as diffusers' DPMSolverMultistepScheduler with
 * {@code algorithm_type="dpmsolver++"}, {@code solver_order=2}, {@code solver_type="midpoint"}. Works on
 * lambda = log(alpha / sigma) in any {@link LatentSpace} (diffusers: variance-preserving). Draws nothing.
 *
 * <p>First order {@code x' = (sigma'/sigma) x - alpha' (e^-h - 1) x0} on the first step (no history) and when the
 * next sigma is 0 (there lambda' = inf and the step returns x0 exactly); otherwise second order with the previous
 * step's x0: {@code D = x0 + (x0 - x0_prev) / (2 r)}, {@code r = h_prev / h}.
 */
public final class DpmSolverMultistep implements Sampler {
    private final boolean lowerOrderFinal;
    private FloatTensor previousDenoised;
    private float previousLambda;

    /**
     * @param lowerOrderFinal first order on the last step even when it does not end at sigma 0 (diffusers:
     *                        {@code lower_order_final} and fewer than 15 steps)
     */
    public DpmSolverMultistep(boolean lowerOrderFinal) {
        this.lowerOrderFinal = lowerOrderFinal;
    }

    @Override
    public FloatTensor step(Prediction current, NoiseLevel next, boolean lastStep, NoiseSource noise) {
        NoiseLevel here = current.level();
        float lambda = lambda(here);
        float h = lambda(next) - lambda;
        float ratio = next.sigma() / here.sigma();
        float c = next.alpha() * ((float) Math.exp(-h) - 1f);
        float[] x = current.latents().data(), x0 = current.denoised().data(), r = new float[x.length];
        boolean firstOrder = previousDenoised == null || next.sigma() == 0f || (lastStep && lowerOrderFinal);
        if (firstOrder) {
            for (int j = 0; j < r.length; j++) r[j] = ratio * x[j] - c * x0[j];
        } else {
            float r0 = (lambda - previousLambda) / h;
            float inverse = 1f / r0;
            float half = 0.5f * c;
            float[] prev = previousDenoised.data();
            for (int j = 0; j < r.length; j++) {
                float d1 = inverse * (x0[j] - prev[j]);
                r[j] = ratio * x[j] - c * x0[j] - half * d1;
            }
        }
        previousDenoised = current.denoised();
        previousLambda = lambda;
        return new FloatTensor(current.latents().shape(), r);
    }

    /** lambda = log(alpha) - log(sigma), float32 as diffusers; +inf at sigma 0. */
    private static float lambda(NoiseLevel l) {
        return (float) Math.log(l.alpha()) - (float) Math.log(l.sigma());
    }
}
