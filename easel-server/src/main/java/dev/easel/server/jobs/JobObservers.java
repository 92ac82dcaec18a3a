package dev.easel.server.jobs;

import dev.easel.server.catalog.ModelEntry;

import java.util.List;

/** Several observers as one. */
public record JobObservers(List<JobObserver> all) implements JobObserver {

    public static JobObserver of(JobObserver... observers) {
        return new JobObservers(List.of(observers));
    }

    @Override
    public void queueLength(String device, int waiting) {
        all.forEach(o -> o.queueLength(device, waiting));
    }

    @Override
    public void step(Job job, double seconds) {
        all.forEach(o -> o.step(job, seconds));
    }

    @Override
    public void started(Job job) {
        all.forEach(o -> o.started(job));
    }

    @Override
    public void progress(Job job, int step, int total) {
        all.forEach(o -> o.progress(job, step, total));
    }

    @Override
    public void batch(ModelEntry model, int jobs, int images) {
        all.forEach(o -> o.batch(model, jobs, images));
    }

    @Override
    public void finished(Job job, String outcome, int images, long computeMillis) {
        all.forEach(o -> o.finished(job, outcome, images, computeMillis));
    }
}
