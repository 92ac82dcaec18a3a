package dev.easel.server.jobs;

import dev.easel.server.storage.UsageRecord;
import dev.easel.server.storage.UsageStore;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Clock;

/** Writes one usage row per finished job that reached the device (queued-and-cancelled jobs cost nothing). */
public final class UsageRecorder implements JobObserver {
    private static final Logger log = LoggerFactory.getLogger(UsageRecorder.class);

    private final UsageStore usage;
    private final Clock clock;

    public UsageRecorder(UsageStore usage, Clock clock) {
        this.usage = usage;
        this.clock = clock;
    }

    @Override
    public void finished(Job job, String outcome, int images, long computeMillis) {
        if (images == 0 && computeMillis == 0) return;
        JobSpec s = job.spec();
        try {
            usage.record(new UsageRecord(job.key().id(), clock.instant(), s.endpoint(), job.model().id(), outcome, images,
                    (long) s.width() * s.height() * images, computeMillis, s.user()));
        } catch (RuntimeException e) {
            log.error("could not record the usage of job {} (key {})", job.id(), job.key().id(), e);
        }
    }
}
