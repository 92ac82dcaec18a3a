package dev.easel.diffusion.scheduler;

/**
 * How a sampler scales the latents it carries between steps. The same noisy image can be held as
 * {@code x0 + s * noise} (Euler's form, s = the schedule's sigma) or variance-preserving
 * {@code (x0 + s * noise) / sqrt(s^2 + 1)} (DDIM and DPM-Solver in diffusers, whose latents start as plain noise);
 * flow-matching models use {@code (1 - s) * x0 + s * noise}. Each form gives the sampler's formulas their
 * simplest shape and makes the recorded latents of the reference runs directly comparable.
 */
public enum LatentSpace {
    /** {@code x = x0 + s * noise}; a discrete-time model sees {@code x / sqrt(s^2 + 1)}. */
    SIGMA {
        @Override
        NoiseLevel level(float s) {
            return new NoiseLevel(1f, s, (float) Math.sqrt(s * s + 1f));
        }
    },
    /** {@code x = alpha * x0 + sigma_vp * noise} with {@code alpha = 1/sqrt(s^2 + 1)}, {@code sigma_vp = s * alpha}. */
    VARIANCE_PRESERVING {
        @Override
        NoiseLevel level(float s) {
            float alpha = 1f / (float) Math.sqrt(s * s + 1f);
            return new NoiseLevel(alpha, s * alpha, 1f);
        }
    },
    /** {@code x = (1 - s) * x0 + s * noise}, a flow-matching model's own input. */
    FLOW {
        @Override
        NoiseLevel level(float s) {
            return new NoiseLevel(1f - s, s, 1f);
        }
    };

    /** The level of schedule sigma {@code s} in this form (float32 arithmetic, as diffusers). */
    abstract NoiseLevel level(float s);
}
