package dev.easel.diffusion.scheduler;

import dev.easel.engine.tensor.FloatTensor;

/**
 * The denoiser's output at one step, read through the model's {@link Parameterization}: what a
 * {@link Sampler} steps from. The estimates are computed on first use and kept.
 */
public final class Prediction {
    private final FloatTensor latents;
    private final FloatTensor modelOutput;
    private final NoiseLevel level;
    private final Parameterization parameterization;
    private FloatTensor denoised;
    private FloatTensor noise;

    public Prediction(FloatTensor latents, FloatTensor modelOutput, NoiseLevel level, Parameterization parameterization) {
        Parameterization.checkShapes(latents, modelOutput);
        this.latents = latents;
        this.modelOutput = modelOutput;
        this.level = level;
        this.parameterization = parameterization;
    }

    /** The latents the model was called on, in the sampler's {@link LatentSpace}. */
    public FloatTensor latents() {
        return latents;
    }

    /** Their noise level. */
    public NoiseLevel level() {
        return level;
    }

    /** The clean-latent estimate x0. */
    public FloatTensor denoised() {
        if (denoised == null) denoised = parameterization.denoised(latents, modelOutput, level);
        return denoised;
    }

    /** The noise estimate. */
    public FloatTensor noise() {
        if (noise == null) noise = parameterization.noise(latents, modelOutput, level);
        return noise;
    }
}
