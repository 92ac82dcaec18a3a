package dev.easel.diffusion.pipeline;

import dev.easel.diffusion.convert.CheckpointInspector;
import dev.easel.diffusion.convert.DetectedCheckpoint;
import dev.easel.diffusion.convert.UnsupportedCheckpointException;
import dev.easel.diffusion.family.ModelFiles;
import dev.easel.engine.runtime.RuntimeOptions;

import java.nio.file.Path;

/** Loads a model (a checkpoint, and the separate component files some families need) as the pipeline of its family. */
public final class Pipelines {
    private Pipelines() {
    }

    public static ImagePipeline load(Path checkpoint) {
        return load(ModelFiles.of(checkpoint), RuntimeOptions.defaults());
    }

    public static ImagePipeline load(Path checkpoint, RuntimeOptions options) {
        return load(ModelFiles.of(checkpoint), options);
    }

    /**
     * @throws UnsupportedCheckpointException for a checkpoint of a family Easel does not run, naming it
     * @throws dev.easel.engine.weights.WeightsException for a broken or incomplete checkpoint or component file,
     *                                                   naming the tensor, or a component that cannot be found
     */
    public static ImagePipeline load(ModelFiles files, RuntimeOptions options) {
        DetectedCheckpoint detected = CheckpointInspector.inspect(files.checkpoint());
        return detected.family().load(detected, files, options);
    }
}
