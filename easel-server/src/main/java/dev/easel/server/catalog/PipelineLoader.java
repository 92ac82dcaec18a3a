package dev.easel.server.catalog;

import dev.easel.engine.runtime.WeightMode;
import dev.easel.diffusion.family.ModelFiles;
import dev.easel.diffusion.pipeline.ImagePipeline;

import java.nio.file.Path;

/** Loads a checkpoint (single file or diffusers folder) into a ready pipeline. */
@FunctionalInterface
public interface PipelineLoader {

    /**
     * @throws RuntimeException with a message fit for the model listing when the checkpoint cannot be
     *                          served (unsupported family, missing tensor, ...)
     */
    ImagePipeline load(ModelFiles files) throws Exception;

    /** With the catalog's weight mode ({@code weights:}); null = the family's. Loaders without modes ignore it. */
    default ImagePipeline load(ModelFiles files, WeightMode weights) throws Exception {
        return load(files);
    }

    /** The prepared-model cache it loads through, if any (for {@code /metrics}). */
    default java.util.Optional<dev.easel.engine.runtime.PreparedModelCache> preparedModelCache() {
        return java.util.Optional.empty();
    }
}
