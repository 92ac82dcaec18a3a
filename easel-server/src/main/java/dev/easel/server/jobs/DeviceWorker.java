package dev.easel.server.jobs;

import dev.easel.diffusion.image.RgbImage;
import dev.easel.diffusion.pipeline.GenerationCancelled;
import dev.easel.diffusion.pipeline.GenerationRequest;
import dev.easel.diffusion.pipeline.ImagePipeline;
import dev.easel.diffusion.pipeline.InvalidRequestException;
import dev.easel.diffusion.pipeline.ModelDefaults;
import dev.easel.diffusion.pipeline.ProgressListener;
import dev.easel.server.catalog.ModelCache;
import dev.easel.server.catalog.ModelEntry;
import dev.easel.server.catalog.ModelLoadException;
import dev.easel.engine.tensor.FloatTensor;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.PriorityQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.BiConsumer;

/**
 * One device (the CPU, or one GPU): a bounded queue of jobs ordered by tier then arrival, and one thread
 * that runs them one at a time on the device's {@link ModelCache}. A full queue refuses at once; a
 * cancelled job leaves the queue at once or stops at its next denoising step; on {@link #drain} the
 * queue stops taking jobs and runs what it holds.
 */
public final class DeviceWorker implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(DeviceWorker.class);

    private final String device;
    private final int capacity;
    private final ModelCache cache;
    private final BiConsumer<ModelEntry, String> onLoadFailure;
    private final JobObserver observer;
    private final Clock clock;

    private final ReentrantLock lock = new ReentrantLock();
    private final Condition changed = lock.newCondition();
    private final PriorityQueue<Job> waiting = new PriorityQueue<>(Job.ORDER);
    private Job running;
    private boolean accepting = true;
    private boolean stopped;
    /** Exponentially weighted mean of job durations, for Retry-After. */
    private double meanJobSeconds = 5;
    private final Thread thread;

    public DeviceWorker(String device, int capacity, ModelCache cache, BiConsumer<ModelEntry, String> onLoadFailure,
                        JobObserver observer, Clock clock) {
        this.device = device;
        this.capacity = capacity;
        this.cache = cache;
        this.onLoadFailure = onLoadFailure;
        this.observer = observer;
        this.clock = clock;
        this.thread = Thread.ofPlatform().name("easel-device-" + device).unstarted(this::loop);
        this.thread.start();
    }

    public String device() {
        return device;
    }

    public ModelCache cache() {
        return cache;
    }

    /**
     * Queues a job.
     *
     * @throws JobFailure.QueueFull    when {@code capacity} jobs already wait
     * @throws JobFailure.ShuttingDown when draining
     */
    public void submit(Job job) {
        lock.lock();
        try {
            if (!accepting) throw new JobFailure.ShuttingDown();
            if (waiting.size() >= capacity) throw new JobFailure.QueueFull(retryAfterSeconds());
            job.assignTo(this);
            waiting.add(job);
            observer.queueLength(device, waiting.size());
            changed.signalAll();
        } finally {
            lock.unlock();
        }
    }

    /** Jobs waiting (not counting the running one). */
    public int waitingCount() {
        lock.lock();
        try {
            return waiting.size();
        } finally {
            lock.unlock();
        }
    }

    public boolean busy() {
        lock.lock();
        try {
            return running != null || !waiting.isEmpty();
        } finally {
            lock.unlock();
        }
    }

    /** Seconds until a place in the queue is likely to free up. */
    public long retryAfterSeconds() {
        lock.lock();
        try {
            return Math.max(1, Math.min(300, Math.round(Math.ceil(meanJobSeconds))));
        } finally {
            lock.unlock();
        }
    }

    void cancelWaiting(Job job) {
        boolean removed;
        lock.lock();
        try {
            removed = waiting.remove(job);
            if (removed) observer.queueLength(device, waiting.size());
            changed.signalAll();
        } finally {
            lock.unlock();
        }
        if (removed) finish(job, new JobFailure.Cancelled(job.cancelReason()), "cancelled", 0, 0);
    }

    /** Stops taking jobs and waits up to {@code timeout} for the queued and running ones; true if all finished. */
    public boolean drain(Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        lock.lock();
        try {
            accepting = false;
            changed.signalAll();
            while (running != null || !waiting.isEmpty()) {
                long left = deadline - System.nanoTime();
                if (left <= 0) return false;
                changed.awaitNanos(left);
            }
            return true;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        } finally {
            lock.unlock();
        }
    }

    /** Stops the device: jobs still waiting fail with {@link JobFailure.ShuttingDown}, a running one is cancelled. */
    @Override
    public void close() {
        List<Job> left;
        Job current;
        lock.lock();
        try {
            accepting = false;
            stopped = true;
            left = new ArrayList<>(waiting);
            waiting.clear();
            current = running;
            changed.signalAll();
        } finally {
            lock.unlock();
        }
        for (Job j : left) finish(j, new JobFailure.ShuttingDown(), "cancelled", 0, 0);
        if (current != null) current.cancel("the server is shutting down");
        try {
            thread.join(TimeUnit.SECONDS.toMillis(30));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        cache.close();
    }

    private void loop() {
        while (true) {
            Job job;
            lock.lock();
            try {
                while (waiting.isEmpty() && !stopped) changed.awaitUninterruptibly();
                if (stopped) return;
                job = waiting.poll();
                running = job;
                observer.queueLength(device, waiting.size());
            } finally {
                lock.unlock();
            }
            try {
                run(job);
            } catch (Throwable t) { // never let the device thread die
                log.error("job {} failed unexpectedly", job.id(), t);
                finish(job, new JobFailure.Internal(t), "failed", 0, 0);
            } finally {
                lock.lock();
                try {
                    running = null;
                    changed.signalAll();
                } finally {
                    lock.unlock();
                }
            }
        }
    }

    private void run(Job job) {
        if (job.cancelled()) {
            finish(job, new JobFailure.Cancelled(job.cancelReason()), "cancelled", 0, 0);
            return;
        }
        if (!clock.instant().isBefore(job.deadline())) {
            finish(job, new JobFailure.TimedOut(false), "timeout", 0, 0);
            return;
        }
        long started = System.nanoTime();
        job.listener().onStarted();
        try (ModelCache.Lease lease = cache.acquire(job.model())) {
            ImagePipeline pipeline = lease.pipeline();
            GenerationRequest request = resolve(job, pipeline.defaults());
            List<RgbImage> images = pipeline.generate(request, new Progress(job, pipeline));
            long millis = (System.nanoTime() - started) / 1_000_000;
            recordDuration(millis);
            JobResult result = new JobResult(List.copyOf(images), request.seed(), request.steps(), request.guidanceScale(),
                    request.sampler(), millis);
            finish(job, result, images.size(), millis);
        } catch (ModelLoadException e) {
            log.warn("{}", e.getMessage(), e.getCause());
            onLoadFailure.accept(job.model(), e.getMessage());
            finish(job, e, "failed", 0, elapsed(started));
        } catch (GenerationCancelled e) {
            boolean timedOut = !clock.instant().isBefore(job.deadline());
            if (timedOut) {
                finish(job, new JobFailure.TimedOut(true), "timeout", 0, elapsed(started));
            } else {
                finish(job, new JobFailure.Cancelled(job.cancelReason() != null ? job.cancelReason() : e.getMessage()),
                        "cancelled", 0, elapsed(started));
            }
        } catch (InvalidRequestException e) {
            finish(job, e, "invalid", 0, elapsed(started));
        } catch (RuntimeException | OutOfMemoryError e) {
            log.error("job {} on model {} failed", job.id(), job.model().id(), e);
            finish(job, new JobFailure.Internal(e), "failed", 0, elapsed(started));
        }
    }

    private static long elapsed(long startedNanos) {
        return (System.nanoTime() - startedNanos) / 1_000_000;
    }

    private void recordDuration(long millis) {
        lock.lock();
        try {
            meanJobSeconds = 0.8 * meanJobSeconds + 0.2 * (millis / 1000.0);
        } finally {
            lock.unlock();
        }
    }

    /** The request the pipeline runs: the job's values, else the catalog's, else the family's. */
    static GenerationRequest resolve(Job job, ModelDefaults defaults) {
        JobSpec s = job.spec();
        ModelEntry m = job.model();
        int steps = s.steps() != null ? s.steps() : m.steps() != null ? m.steps() : defaults.steps();
        float guidance = s.guidanceScale() != null ? s.guidanceScale()
                : m.guidanceScale() != null ? m.guidanceScale() : defaults.guidanceScale();
        String sampler = s.sampler() != null ? s.sampler() : m.sampler() != null ? m.sampler() : defaults.sampler();
        float strength = s.strength() != null ? s.strength() : s.mask().isPresent() ? 1.0f : s.initImage().isPresent() ? 0.8f : 1.0f;
        return new GenerationRequest(s.prompt(), s.negativePrompt() == null ? "" : s.negativePrompt(), s.width(), s.height(),
                steps, guidance, sampler, s.seed(), s.n(), s.initImage(), strength, s.mask());
    }

    private void finish(Job job, JobResult result, int images, long millis) {
        observer.finished(job, "succeeded", images, millis);
        job.result().complete(result);
    }

    private void finish(Job job, RuntimeException failure, String outcome, int images, long millis) {
        if (job.result().isDone()) return;
        observer.finished(job, outcome, images, millis);
        job.result().completeExceptionally(failure);
    }

    /** Checks for cancellation and time-out after every step, times steps, makes previews. */
    private final class Progress implements ProgressListener {
        private final Job job;
        private final ImagePipeline pipeline;
        private long last = System.nanoTime();
        private int[] previewSteps;
        private int partialsSent;

        Progress(Job job, ImagePipeline pipeline) {
            this.job = job;
            this.pipeline = pipeline;
        }

        @Override
        public void onStep(int step, int total, FloatTensor latents) {
            long now = System.nanoTime();
            observer.step(job, (now - last) / 1e9);
            last = now;
            if (job.cancelled()) throw new GenerationCancelled(job.cancelReason());
            if (!clock.instant().isBefore(job.deadline())) throw new GenerationCancelled("request timeout");
            int wanted = job.spec().partialImages();
            if (wanted > 0 && step < total) {
                if (previewSteps == null) previewSteps = previewSteps(wanted, total);
                if (partialsSent < previewSteps.length && step == previewSteps[partialsSent]) {
                    int images = (int) Math.min(job.spec().n(), latents.dim(0));
                    for (int i = 0; i < images; i++) {
                        job.listener().onPartialImage(i, partialsSent, pipeline.preview(latents, i));
                    }
                    partialsSent++;
                    last = System.nanoTime(); // previews are not step time
                }
            }
        }
    }

    /** Up to {@code wanted} steps, evenly spread over 1..total-1, at which to send a preview. */
    static int[] previewSteps(int wanted, int total) {
        int count = Math.min(wanted, total - 1);
        if (count <= 0) return new int[0];
        int[] steps = new int[count];
        for (int i = 0; i < count; i++) {
            steps[i] = Math.max(1, (int) Math.round((i + 1) * (double) total / (count + 1)));
            if (i > 0 && steps[i] <= steps[i - 1]) steps[i] = steps[i - 1] + 1;
        }
        return steps;
    }
}
