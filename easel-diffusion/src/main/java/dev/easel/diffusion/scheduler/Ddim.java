package dev.easel.diffusion.scheduler;

import dev.easel.diffusion.noise.NoiseSource;
import dev.easel.engine.tensor.FloatTensor;

/**
 * DDIM with eta = 0 (deterministic): re-noise the x0 estimate to the next level with the predicted noise,
 * {@code x' = alpha' * x0 + sigma' * eps}. Valid in any {@link LatentSpace}; diffusers holds DDIM latents
 * variance-preserving. Draws nothing.
 *
 * <p>The next level is the next scheduled timestep's. diffusers' DDIMScheduler instead steps to
 * {@code t - T/N}: the same for its default "leading" spacing, a few timesteps apart for "trailing"/"linspace"
 * when T/N is not an integer.
 */
public final class Ddim implements Sampler {

    @Override
    public FloatTensor step(Prediction current, NoiseLevel next, boolean lastStep, NoiseSource noise) {
        FloatTensor x = current.latents();
        float[] x0 = current.denoised().data(), eps = current.noise().data(), r = new float[x0.length];
        float a = next.alpha(), s = next.sigma();
        for (int j = 0; j < r.length; j++) r[j] = a * x0[j] + s * eps[j];
        return new FloatTensor(x.shape(), r);
    }
}
