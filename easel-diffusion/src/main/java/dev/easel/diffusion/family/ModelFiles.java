package dev.easel.diffusion.family;

import java.nio.file.Path;
import java.util.Optional;

/**
 * The files a model is made of. Most checkpoints hold every component in one file or folder; FLUX.1 is
 * distributed as a transformer file with the autoencoder and both text encoders beside it in files of their own.
 * A component left empty is taken from the checkpoint itself or, for a family that needs separate files, found
 * beside it by content ({@link ComponentFiles}).
 *
 * @param checkpoint the model file or diffusers folder (for FLUX.1, the transformer or an all-in-one file)
 * @param vae        the autoencoder ({@code ae.safetensors})
 * @param clipL      the CLIP-L text encoder ({@code clip_l.safetensors})
 * @param t5         the T5 encoder ({@code t5xxl_fp16.safetensors}, fp8 and scaled fp8 variants)
 */
public record ModelFiles(Path checkpoint, Optional<Path> vae, Optional<Path> clipL, Optional<Path> t5) {

    public ModelFiles {
        if (checkpoint == null) throw new IllegalArgumentException("a model needs its checkpoint");
    }

    /** A model whose components are all in (or found beside) {@code checkpoint}. */
    public static ModelFiles of(Path checkpoint) {
        return new ModelFiles(checkpoint, Optional.empty(), Optional.empty(), Optional.empty());
    }
}
