package dev.easel.diffusion.pipeline;

import dev.easel.engine.tensor.FloatTensor;

/** Told after every denoising step; throwing {@link GenerationCancelled} stops the run before the next step. */
@FunctionalInterface
public interface ProgressListener {
    ProgressListener NONE = (step, total, latents) -> { };

    /**
     * @param step    steps finished so far (1..total)
     * @param latents the current latents (batch, channels, h, w) for cheap previews; do not modify
     */
    void onStep(int step, int total, FloatTensor latents);
}
