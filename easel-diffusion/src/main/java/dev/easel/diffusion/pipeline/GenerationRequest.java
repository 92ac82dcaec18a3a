package dev.easel.diffusion.pipeline;

import dev.easel.diffusion.image.Mask;
import dev.easel.diffusion.image.RgbImage;

import java.util.Optional;

/**
 * One generation as a pipeline runs it: all defaults already resolved by the caller (CLI or API).
 *
 * @param guidanceScale classifier-free guidance scale; values <= 1 turn guidance off
 * @param sampler       one of {@link dev.easel.diffusion.scheduler.SamplerKind}'s names
 * @param initImage     img2img / edit source; its size must equal width x height
 * @param strength      how much of the schedule runs on top of the source, in [0, 1]
 * @param mask          area to repaint (needs initImage)
 */
public record GenerationRequest(
        String prompt,
        String negativePrompt,
        int width,
        int height,
        int steps,
        float guidanceScale,
        String sampler,
        long seed,
        int imageCount,
        Optional<RgbImage> initImage,
        float strength,
        Optional<Mask> mask) {

    /** What it must share with other requests to run in one batch; empty for an edit, which runs alone. */
    public Optional<BatchKey> batchKey() {
        return BatchKey.of(this);
    }
}
