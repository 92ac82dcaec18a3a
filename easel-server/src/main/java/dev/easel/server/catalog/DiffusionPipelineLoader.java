package dev.easel.server.catalog;

import dev.easel.engine.runtime.WeightMode;
import dev.easel.diffusion.family.ModelFiles;
import dev.easel.engine.runtime.PreparedModelCache;
import dev.easel.engine.runtime.RuntimeOptions;
import dev.easel.diffusion.pipeline.ImagePipeline;
import dev.easel.diffusion.pipeline.Pipelines;

import java.util.Optional;

/** The real loader: easel-diffusion detects the checkpoint's family and builds its pipeline. */
public final class DiffusionPipelineLoader implements PipelineLoader {
    private final Optional<PreparedModelCache> cache;

    public DiffusionPipelineLoader() {
        this(Optional.empty());
    }

    /** Loading through {@code cache} when present: a model prepared before loads from it in seconds. */
    public DiffusionPipelineLoader(Optional<PreparedModelCache> cache) {
        this.cache = cache;
    }

    @Override
    public ImagePipeline load(ModelFiles files) {
        return load(files, null);
    }

    @Override
    public ImagePipeline load(ModelFiles files, WeightMode weights) {
        return Pipelines.load(files, RuntimeOptions.defaults().withWeights(weights).withCache(cache.orElse(null)));
    }

    @Override
    public Optional<PreparedModelCache> preparedModelCache() {
        return cache;
    }
}
