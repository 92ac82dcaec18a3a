package dev.easel.diffusion.convert;

import dev.easel.diffusion.family.ModelFamily;
import java.nio.file.Path;
import java.util.Set;

/**
 * What a checkpoint is, as told from its contents.
 *
 * @param components        the diffusers component names whose weights it holds (e.g. {@code unet, vae, text_encoder};
 *                          a FLUX.1 transformer file holds only {@code transformer})
 * @param guidanceDistilled FLUX.1 only: the model takes the guidance scale as an input ({@code guidance_in},
 *                          FLUX.1-dev style) instead of being step-distilled (schnell)
 * @param reason            the evidence, in words, for logs and for users who ask why
 */
public record DetectedCheckpoint(Path path, Layout layout, ModelFamily family, Set<String> components,
                                 boolean guidanceDistilled, String reason) {

    public DetectedCheckpoint {
        components = Set.copyOf(components);
    }

    public enum Layout {
        /** One {@code .safetensors} file in the original (LDM/SGM/BFL) layout. */
        SINGLE_FILE,
        /** A diffusers pipeline folder with {@code model_index.json}. */
        DIFFUSERS_FOLDER
    }
}
