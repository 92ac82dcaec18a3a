package dev.easel.diffusion.pipeline;

import dev.easel.diffusion.convert.CheckpointInspector;
import dev.easel.diffusion.convert.DetectedCheckpoint;
import dev.easel.diffusion.convert.UnsupportedCheckpointException;
import dev.easel.diffusion.family.StableDiffusion15;
import dev.easel.diffusion.family.StableDiffusionXL;
import dev.easel.engine.runtime.RuntimeOptions;

import java.nio.file.Path;

/** Loads a checkpoint (single file or diffusers folder) as the pipeline of its family. */
public final class Pipelines {
    private Pipelines() {
    }

    public static ImagePipeline load(Path checkpoint) {
        return load(checkpoint, RuntimeOptions.defaults());
    }

    /**
     * @throws UnsupportedCheckpointException for a checkpoint of a family Easel does not run, naming it
     * @throws dev.easel.engine.weights.WeightsException for a broken or incomplete checkpoint, naming the tensor
     */
    public static ImagePipeline load(Path checkpoint, RuntimeOptions options) {
        DetectedCheckpoint detected = CheckpointInspector.inspect(checkpoint);
        return switch (detected.family()) {
            case SD15 -> StableDiffusion15.load(detected, options);
            case SDXL -> StableDiffusionXL.load(detected, options);
            case FLUX -> throw new UnsupportedCheckpointException(checkpoint, "a " + detected.family().displayName()
                    + " checkpoint (" + detected.reason() + "); this build of Easel runs Stable Diffusion 1.x and SDXL");
        };
    }
}
