package dev.easel.server.jobs;

import dev.easel.diffusion.image.RgbImage;

/** Told about a running job on the device's thread: must be quick and must not block. */
public interface JobListener {
    JobListener NONE = new JobListener() {
    };

    /** A preview of image {@code imageIndex} after {@code step} of {@code totalSteps} steps. */
    default void onPartialImage(int imageIndex, int partialIndex, RgbImage preview) {
    }

    /**
     * A preview another node made for this node's waiting job, already encoded in the job's output format (the bytes
     * the client gets, as a local preview would be encoded); called in stream order.
     */
    default void onEncodedPartialImage(int imageIndex, int partialIndex, byte[] encoded) {
    }

    /** The job left the queue and its model is about to run. */
    default void onStarted() {
    }
}
