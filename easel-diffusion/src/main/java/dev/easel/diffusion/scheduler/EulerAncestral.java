package dev.easel.diffusion.scheduler;

import dev.easel.diffusion.noise.NoiseSource;
import dev.easel.engine.tensor.FloatTensor;

/**
 * Euler ancestral (A1111 "Euler a"), in the {@link LatentSpace#SIGMA} form: a deterministic Euler step down to
 * {@code sigma_down}, then fresh noise of std {@code sigma_up} so that the total reaches s', with
 * {@code sigma_up = sqrt(s'^2 (s^2 - s'^2) / s^2)} and {@code sigma_down = sqrt(s'^2 - sigma_up^2)}. One noise
 * tensor is drawn every step, also the last where sigma_up = 0 (as diffusers does).
 */
public final class EulerAncestral implements Sampler {

    @Override
    public FloatTensor step(Prediction current, NoiseLevel next, boolean lastStep, NoiseSource noise) {
        FloatTensor x = current.latents();
        float s = current.level().sigma();
        float to = next.sigma();
        // float32 scalars in diffusers' order of operations
        float up = (float) Math.sqrt(to * to * (s * s - to * to) / (s * s));
        // Rounding can make sigma_up^2 exceed s'^2 by an ulp only when s' << s; torch would give NaN there.
        float down = (float) Math.sqrt(Math.max(to * to - up * up, 0f));
        float dt = down - s;
        float[] xs = x.data(), x0 = current.denoised().data(), r = new float[xs.length];
        for (int j = 0; j < r.length; j++) {
            float derivative = (xs[j] - x0[j]) / s;
            r[j] = xs[j] + derivative * dt;
        }
        float[] z = noise.next(x.shape()).data();
        for (int j = 0; j < r.length; j++) r[j] = r[j] + z[j] * up;
        return new FloatTensor(x.shape(), r);
    }
}
