package dev.easel.server.catalog;

import dev.easel.engine.runtime.WeightMode;
import dev.easel.diffusion.family.ModelFiles;
import dev.easel.engine.runtime.RuntimeOptions;
import dev.easel.diffusion.pipeline.ImagePipeline;
import dev.easel.diffusion.pipeline.Pipelines;

import java.nio.file.Path;

/** The real loader: easel-diffusion detects the checkpoint's family and builds its pipeline. */
public final class DiffusionPipelineLoader implements PipelineLoader {

    @Override
    public ImagePipeline load(ModelFiles files) {
        return load(files, null);
    }

    @Override
    public ImagePipeline load(ModelFiles files, WeightMode weights) {
        return Pipelines.load(files, RuntimeOptions.defaults().withWeights(weights));
    }
}
