package dev.easel.server.jobs;

import dev.easel.server.storage.JobStore;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Clock;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Keeps each job's record in step with its run: running (and on which node) when it starts, its step as it goes
 * (at most every {@link #PROGRESS_INTERVAL_NANOS}, and always the last step). How a job ends is written by whoever
 * answers it (the API), since that is where its result body and error are made.
 */
public final class JobRecorder implements JobObserver {
    private static final Logger log = LoggerFactory.getLogger(JobRecorder.class);
    private static final long PROGRESS_INTERVAL_NANOS = 250_000_000L;

    private final JobStore store;
    private final String node;
    private final Clock clock;
    private final Map<String, Long> lastWrite = new ConcurrentHashMap<>();

    public JobRecorder(JobStore store, String node, Clock clock) {
        this.store = store;
        this.node = node;
        this.clock = clock;
    }

    @Override
    public void started(Job job) {
        try {
            store.markRunning(job.publicId(), node, clock.instant());
        } catch (RuntimeException e) {
            log.error("could not record the start of job {}", job.publicId(), e);
        }
    }

    @Override
    public void progress(Job job, int step, int total) {
        long now = System.nanoTime();
        Long last = lastWrite.get(job.publicId());
        if (step < total && last != null && now - last < PROGRESS_INTERVAL_NANOS) return;
        lastWrite.put(job.publicId(), now);
        try {
            store.progress(job.publicId(), step, total);
        } catch (RuntimeException e) {
            log.error("could not record the progress of job {}", job.publicId(), e);
        }
    }

    @Override
    public void finished(Job job, String outcome, int images, long computeMillis) {
        lastWrite.remove(job.publicId());
    }
}
