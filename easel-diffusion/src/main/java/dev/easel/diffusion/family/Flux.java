package dev.easel.diffusion.family;

import dev.easel.diffusion.convert.DetectedCheckpoint;
import dev.easel.diffusion.convert.UnsupportedCheckpointException;
import dev.easel.diffusion.pipeline.ImagePipeline;
import dev.easel.engine.runtime.RuntimeOptions;

/** FLUX.1 (schnell and dev). */
public final class Flux {
    private Flux() {
    }

    public static ImagePipeline load(DetectedCheckpoint checkpoint, ModelFiles files, RuntimeOptions options) {
        throw new UnsupportedCheckpointException(checkpoint.path(), "a FLUX.1 checkpoint (" + checkpoint.reason()
                + "); this build of Easel runs Stable Diffusion 1.x and SDXL");
    }
}
