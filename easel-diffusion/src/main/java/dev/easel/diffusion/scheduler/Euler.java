package dev.easel.diffusion.scheduler;

import dev.easel.diffusion.noise.NoiseSource;
import dev.easel.engine.tensor.FloatTensor;

/**
 * Euler's method on the probability-flow ODE: {@code x' = x + (s' - s) * d} with the derivative
 * {@code d = (x - x0) / s}. Valid where the latents are linear in s with x0 fixed: the {@link LatentSpace#SIGMA}
 * form of discrete-time models and the {@link LatentSpace#FLOW} form (where d is the flow velocity).
 */
public final class Euler implements Sampler {
    private final boolean drawsUnusedNoise;

    /**
     * @param drawsUnusedNoise draw (and ignore) one noise tensor per step, as diffusers' EulerDiscreteScheduler
     *                         does even with {@code s_churn = 0}: a seeded torch-compatible generator then stays
     *                         in step with diffusers for everything drawn later (and recorded draws line up)
     */
    public Euler(boolean drawsUnusedNoise) {
        this.drawsUnusedNoise = drawsUnusedNoise;
    }

    @Override
    public FloatTensor step(Prediction current, NoiseLevel next, boolean lastStep, NoiseSource noise) {
        FloatTensor x = current.latents();
        if (drawsUnusedNoise) noise.next(x.shape());
        float s = current.level().sigma();
        float dt = next.sigma() - s;
        float[] xs = x.data(), x0 = current.denoised().data(), r = new float[xs.length];
        for (int j = 0; j < r.length; j++) {
            float derivative = (xs[j] - x0[j]) / s;
            r[j] = xs[j] + derivative * dt;
        }
        return new FloatTensor(x.shape(), r);
    }
}
