package dev.easel.server.jobs;

import dev.easel.diffusion.image.Mask;
import dev.easel.diffusion.image.RgbImage;

import java.util.Optional;

/**
 * What a request asks for, validated, before the model's defaults fill the gaps.
 *
 * @param endpoint      "generations" or "edits" (usage and metrics)
 * @param steps         null = the catalog's or the pipeline's default (likewise guidance, sampler, strength)
 * @param partialImages previews to stream during denoising (0 = none)
 */
public record JobSpec(
        String endpoint,
        String prompt,
        String negativePrompt,
        int width,
        int height,
        Integer steps,
        Float guidanceScale,
        String sampler,
        long seed,
        int n,
        Optional<RgbImage> initImage,
        Float strength,
        Optional<Mask> mask,
        int partialImages,
        String user) {
}
