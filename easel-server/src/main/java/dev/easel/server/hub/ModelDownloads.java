package dev.easel.server.hub;

import dev.easel.server.config.ServerConfig.FileSource;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The server's downloads of catalog models ({@code easel serve --pull}): one at most per model however many
 * requests ask for it, in the background; their progress for {@code GET /v1/models}. A failed download is
 * tried again by a request that comes after {@link #RETRY_FAILED_AFTER}.
 */
public final class ModelDownloads {
    private static final Logger log = LoggerFactory.getLogger(ModelDownloads.class);
    public static final Duration RETRY_FAILED_AFTER = Duration.ofSeconds(60);

    public enum State { DOWNLOADING, FAILED, DONE }

    /**
     * @param bytes      received so far (parts from earlier runs included)
     * @param totalBytes of the files that were missing; -1 while the hub is being asked
     * @param error      why it failed
     */
    public record Status(State state, long bytes, long totalBytes, Optional<String> error, Instant since) {
        /** Seconds a client should wait before asking again, from the rate so far. */
        public long retryAfterSeconds(Instant now) {
            double elapsed = Math.max(1, Duration.between(since, now).toSeconds());
            if (totalBytes <= 0 || bytes <= 0) return 10;
            double left = (totalBytes - bytes) / (bytes / elapsed);
            return Math.max(2, Math.min(60, (long) Math.ceil(left)));
        }
    }

    private final ModelPuller puller;
    private final Runnable onInstalled;
    private final Clock clock;
    private final Map<String, Tracker> downloads = new ConcurrentHashMap<>();

    private final class Tracker {
        final Instant since = clock.instant();
        final AtomicLong total = new AtomicLong(-1);
        final Map<java.nio.file.Path, Long> done = new ConcurrentHashMap<>();
        volatile State state = State.DOWNLOADING;
        volatile String error;
        volatile Instant finished;

        Status status() {
            long bytes = done.values().stream().mapToLong(Long::longValue).sum();
            return new Status(state, bytes, total.get(), Optional.ofNullable(error), since);
        }
    }

    public ModelDownloads(ModelPuller puller, Runnable onInstalled, Clock clock) {
        this.puller = puller;
        this.onInstalled = onInstalled;
        this.clock = clock;
    }

    /** Starts the download of {@code model}'s missing files unless one runs (or failed moments ago); its status. */
    public Status ensure(String model, List<FileSource> files) {
        Tracker t = downloads.compute(model, (id, existing) -> {
            if (existing != null && (existing.state == State.DOWNLOADING
                    || (existing.state == State.FAILED && clock.instant().isBefore(existing.finished.plus(RETRY_FAILED_AFTER))))) {
                return existing;
            }
            Tracker fresh = new Tracker();
            Thread.ofVirtual().name("easel-pull-" + id).start(() -> run(id, files, fresh));
            return fresh;
        });
        return t.status();
    }

    public Optional<Status> status(String model) {
        return Optional.ofNullable(downloads.get(model)).map(Tracker::status);
    }

    private void run(String model, List<FileSource> files, Tracker t) {
        try {
            log.info("downloading the files of model {} from {}", model, puller.hub().endpoint());
            ModelPuller.Plan plan = puller.plan(files);
            plan.missing().forEach(f -> t.done.put(f.target(), f.partBytes()));
            t.total.set(plan.totalBytes());
            puller.pull(plan, new PullListener() {
                @Override
                public void progress(ModelPuller.PlannedFile file, long bytes) {
                    t.done.put(file.target(), bytes);
                }
            });
            onInstalled.run();
            t.finished = clock.instant();
            t.state = State.DONE;
            log.info("model {} is installed ({})", model, Bytes.format(plan.totalBytes()));
        } catch (PullException | RuntimeException e) {
            t.error = ModelPuller.describe(e);
            t.finished = clock.instant();
            t.state = State.FAILED;
            log.warn("downloading model {} failed: {}", model, t.error);
        }
    }
}
