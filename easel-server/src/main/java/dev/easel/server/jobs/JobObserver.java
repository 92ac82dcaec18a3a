package dev.easel.server.jobs;

import dev.easel.server.catalog.ModelEntry;

/** Told about every job's life: metrics and usage accounting hang here. */
public interface JobObserver {
    JobObserver NONE = new JobObserver() {
    };

    default void queueLength(String device, int waiting) {
    }

    default void step(Job job, double seconds) {
    }

    /** The job left the queue and runs now (alone or in a batch). */
    default void started(Job job) {
    }

    /** A running job has done {@code step} of {@code total} denoising steps. */
    default void progress(Job job, int step, int total) {
    }

    /** A pipeline call starts for {@code jobs} jobs (merged when more than one) making {@code images} images. */
    default void batch(ModelEntry model, int jobs, int images) {
    }

    /**
     * @param outcome "succeeded", "failed", "invalid", "cancelled", "timeout" or "rejected"
     */
    default void finished(Job job, String outcome, int images, long computeMillis) {
    }
}
