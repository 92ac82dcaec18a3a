package dev.easel.server.jobs;

/** Told about every job's life: metrics and usage accounting hang here. */
public interface JobObserver {
    JobObserver NONE = new JobObserver() {
    };

    default void queueLength(String device, int waiting) {
    }

    default void step(Job job, double seconds) {
    }

    /**
     * @param outcome "succeeded", "failed", "invalid", "cancelled", "timeout" or "rejected"
     */
    default void finished(Job job, String outcome, int images, long computeMillis) {
    }
}
