package dev.easel.diffusion.pipeline;

/** Thrown by a {@link ProgressListener} to stop a generation (client gone, timeout, shutdown). */
public class GenerationCancelled extends RuntimeException {
    public GenerationCancelled(String why) {
        super(why);
    }
}
