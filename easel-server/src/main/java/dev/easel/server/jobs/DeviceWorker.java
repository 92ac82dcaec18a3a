package dev.easel.server.jobs;

import dev.easel.diffusion.image.RgbImage;
import dev.easel.diffusion.pipeline.BatchKey;
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
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.BiConsumer;

/**
 * One device (the CPU, or one GPU): a bounded queue of jobs ordered by tier then arrival, and one thread
 * that runs them on the device's {@link ModelCache}. A full queue refuses at once; a cancelled job leaves
 * the queue at once or stops at its next denoising step; on {@link #drain} the queue stops taking jobs and
 * runs what it holds.
 *
 * <p>Batching: when a text-to-image job starts, the waiting jobs of the same model and {@link BatchKey} (size,
 * steps, guidance, sampler) join it, in queue order, up to {@code maxBatchImages} images in all, and run as one
 * {@link ImagePipeline#generateBatch} call: one model call per step for all their images, which is faster than
 * one call per job, and each job still gets the images it would get alone. Each job keeps its own previews,
 * result, usage (the batch's compute time split by image count), time-out and cancellation: a member that is
 * cancelled or runs out of time is answered at once and its images are dropped, the others go on; the batch
 * stops only when none of its jobs is left.
 */
public final class DeviceWorker implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(DeviceWorker.class);

    private final String device;
    private final int capacity;
    private final int maxBatchImages;
    private final ModelCache cache;
    private final BiConsumer<ModelEntry, String> onLoadFailure;
    private final JobObserver observer;
    private final Clock clock;

    private final JobSource source;
    private final ReentrantLock lock = new ReentrantLock();
    /** The jobs of the running batch, empty when idle; written only by the device thread. */
    private volatile List<Job> running = List.of();
    private volatile boolean accepting = true;
    /** Exponentially weighted mean of job durations, for Retry-After. */
    private double meanJobSeconds = 5;
    private final Thread thread;

    /**
     * @param maxBatchImages most images that waiting jobs are merged up to (a job with more runs alone); 1 = no merging
     */
    public DeviceWorker(String device, int capacity, int maxBatchImages, ModelCache cache,
                        BiConsumer<ModelEntry, String> onLoadFailure, JobObserver observer, Clock clock) {
        this(device, capacity, maxBatchImages, cache, onLoadFailure, observer, clock, new LocalQueue());
    }

    /** A device whose jobs wait in {@code source}: this process's memory, or the queue shared by every node. */
    public DeviceWorker(String device, int capacity, int maxBatchImages, ModelCache cache,
                        BiConsumer<ModelEntry, String> onLoadFailure, JobObserver observer, Clock clock, JobSource source) {
        if (maxBatchImages < 1) throw new IllegalArgumentException("maxBatchImages must be at least 1, got " + maxBatchImages);
        this.device = device;
        this.capacity = capacity;
        this.maxBatchImages = maxBatchImages;
        this.cache = cache;
        this.onLoadFailure = onLoadFailure;
        this.observer = observer;
        this.clock = clock;
        this.source = source;
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
            if (source.full(capacity)) throw new JobFailure.QueueFull(retryAfterSeconds());
            job.assignTo(this);
            source.add(job);
            observer.queueLength(device, source.size());
        } finally {
            lock.unlock();
        }
    }

    /** Jobs waiting (not counting the running ones). */
    public int waitingCount() {
        return source.size();
    }

    public boolean busy() {
        return !running.isEmpty() || source.size() > 0;
    }

    /** The recent mean time of a job (a batch) on this device, for estimates. */
    public double meanJobSeconds() {
        lock.lock();
        try {
            return meanJobSeconds;
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
        if (source.remove(job)) {
            observer.queueLength(device, source.size());
            finish(job, new JobFailure.Cancelled(job.cancelReason()), "cancelled", 0, 0);
        }
    }

    /** Stops taking jobs and waits up to {@code timeout} for the queued and running ones; true if all finished. */
    public boolean drain(Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        accepting = false;
        source.draining();
        // the waiting count is read before the running batch: a job being taken is counted in one or the other
        while (source.size() > 0 || !running.isEmpty()) {
            if (System.nanoTime() >= deadline) return false;
            try {
                Thread.sleep(10);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return false;
            }
        }
        return true;
    }

    /** Stops the device: jobs still waiting fail with {@link JobFailure.ShuttingDown}, the running ones are cancelled. */
    @Override
    public void close() {
        accepting = false;
        List<Job> left = source.close();
        List<Job> current = running;
        for (Job j : left) finish(j, new JobFailure.ShuttingDown(), "cancelled", 0, 0);
        for (Job j : current) j.cancel("the server is shutting down");
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
            try {
                job = source.next(j -> running = List.of(j));
            } catch (InterruptedException e) {
                return;
            } catch (RuntimeException e) { // the shared queue's database is away: try again shortly
                log.warn("cannot take the next job: {}", e.getMessage());
                sleepQuietly(1000);
                continue;
            }
            if (job == null) {
                running = List.of();
                return;
            }
            observer.queueLength(device, source.size());
            try {
                run(job);
            } catch (Throwable t) { // never let the device thread die
                log.error("job {} failed unexpectedly", job.id(), t);
                for (Job j : running) finish(j, new JobFailure.Internal(t), "failed", 0, 0);
            } finally {
                running = List.of();
            }
        }
    }

    private static void sleepQuietly(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** A job of a batch with the request it runs (its rows of the batch follow those of the members before it). */
    private record Member(Job job, GenerationRequest request) {
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
        observer.started(job);
        job.listener().onStarted();
        try (ModelCache.Lease lease = cache.acquire(job.model())) {
            ImagePipeline pipeline = lease.pipeline();
            GenerationRequest request = resolve(job, pipeline.defaults());
            List<Member> members = new ArrayList<>();
            members.add(new Member(job, request));
            members.addAll(takeCompatible(job, request, pipeline.defaults()));
            runBatch(members, pipeline, started);
        } catch (ModelLoadException e) {
            log.warn("{}", e.getMessage(), e.getCause());
            onLoadFailure.accept(job.model(), e.getMessage());
            finish(job, e, "failed", 0, elapsed(started));
        }
    }

    /**
     * Takes the waiting jobs that can join {@code head}'s batch out of the queue: same model, same batch key,
     * in queue order while the images fit under {@code maxBatchImages}. Edits never join (no batch key).
     */
    private List<Member> takeCompatible(Job head, GenerationRequest headRequest, ModelDefaults defaults) {
        Optional<BatchKey> key = headRequest.batchKey();
        if (key.isEmpty() || headRequest.imageCount() >= maxBatchImages) return List.of();
        List<Member> taken = new ArrayList<>();
        int[] images = {headRequest.imageCount()};
        List<Job> joined = source.takeMatching(head, j -> {
            if (images[0] >= maxBatchImages || j.cancelled() || !clock.instant().isBefore(j.deadline())) return false;
            GenerationRequest r = resolve(j, defaults);
            if (images[0] + r.imageCount() > maxBatchImages || !key.equals(r.batchKey())) return false;
            taken.add(new Member(j, r));
            images[0] += r.imageCount();
            return true;
        });
        if (joined.isEmpty()) return List.of();
        taken.removeIf(m -> !joined.contains(m.job()));
        List<Job> batch = new ArrayList<>(running);
        taken.forEach(m -> batch.add(m.job()));
        running = List.copyOf(batch);
        observer.queueLength(device, source.size());
        for (Member m : taken) {
            observer.started(m.job());
            m.job().listener().onStarted();
        }
        return taken;
    }

    /** Runs the members as one pipeline call and answers each of them. */
    private void runBatch(List<Member> members, ImagePipeline pipeline, long started) {
        int totalImages = members.stream().mapToInt(m -> m.request().imageCount()).sum();
        observer.batch(members.getFirst().job().model(), members.size(), totalImages);
        BatchProgress progress = new BatchProgress(members, pipeline, started, totalImages);
        try {
            List<List<RgbImage>> images = pipeline.generateBatch(members.stream().map(Member::request).toList(), progress);
            long millis = elapsed(started);
            recordDuration(millis);
            for (int i = 0; i < members.size(); i++) {
                Member m = members.get(i);
                if (m.job().result().isDone()) continue; // dropped during the run: its images are not wanted
                GenerationRequest r = m.request();
                long share = share(millis, r.imageCount(), totalImages);
                JobResult result = new JobResult(List.copyOf(images.get(i)), r.seed(), r.steps(), r.guidanceScale(),
                        r.sampler(), share);
                finish(m.job(), result, images.get(i).size(), share);
            }
        } catch (GenerationCancelled e) {
            long millis = elapsed(started);
            for (Member m : members) stopped(m.job(), e.getMessage(), share(millis, m.request().imageCount(), totalImages));
        } catch (InvalidRequestException e) {
            if (members.size() > 1) {
                // One of the merged requests is one this model cannot run (checked before any step): run each
                // alone so each gets its own answer.
                for (Member m : members) {
                    if (!m.job().result().isDone()) runBatch(List.of(m), pipeline, System.nanoTime());
                }
            } else {
                finish(members.getFirst().job(), e, "invalid", 0, elapsed(started));
            }
        } catch (RuntimeException | OutOfMemoryError e) {
            log.error("job{} {} on model {} failed", members.size() > 1 ? "s" : "",
                    members.stream().map(m -> String.valueOf(m.job().id())).toList(), members.getFirst().job().model().id(), e);
            long millis = elapsed(started);
            for (Member m : members) {
                finish(m.job(), new JobFailure.Internal(e), "failed", 0, share(millis, m.request().imageCount(), totalImages));
            }
        }
    }

    /** A job whose run was stopped: timed out if its deadline has passed, else cancelled. */
    private void stopped(Job job, String why, long millis) {
        if (!clock.instant().isBefore(job.deadline())) {
            finish(job, new JobFailure.TimedOut(true), "timeout", 0, millis);
        } else {
            finish(job, new JobFailure.Cancelled(job.cancelReason() != null ? job.cancelReason() : why), "cancelled", 0, millis);
        }
    }

    /** A member's part of the batch's compute time: by its share of the images. */
    private static long share(long millis, int images, int totalImages) {
        return millis * images / totalImages;
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
        float strength = s.strength() != null ? s.strength()
                : s.initImage().isPresent() ? defaults.editStrength(s.mask().isPresent()) : 1f;
        // An absent negative prompt stays absent: with guidance, SDXL then conditions on zeros, as diffusers and the
        // CLI do, where an empty prompt would be encoded.
        return new GenerationRequest(s.prompt(), s.negativePrompt(), s.width(), s.height(),
                steps, guidance, sampler, s.seed(), s.n(), s.initImage(), strength, s.mask());
    }

    private void finish(Job job, JobResult result, int images, long millis) {
        if (job.result().isDone()) return;
        observer.finished(job, "succeeded", images, millis);
        job.result().complete(result);
    }

    private void finish(Job job, RuntimeException failure, String outcome, int images, long millis) {
        if (job.result().isDone()) return;
        observer.finished(job, outcome, images, millis);
        job.result().completeExceptionally(failure);
    }

    /**
     * After every step of a batch: times the step, answers the members that were cancelled or ran out of time
     * (the batch goes on for the others, and stops when none is left), and sends each member the previews of
     * its own rows.
     */
    private final class BatchProgress implements ProgressListener {
        private final List<Member> members;
        private final ImagePipeline pipeline;
        private final long started;
        private final int totalImages;
        private final int[] firstRow;
        private final int[][] previewSteps;
        private final int[] partialsSent;
        private long last = System.nanoTime();

        BatchProgress(List<Member> members, ImagePipeline pipeline, long started, int totalImages) {
            this.members = members;
            this.pipeline = pipeline;
            this.started = started;
            this.totalImages = totalImages;
            this.firstRow = new int[members.size()];
            for (int i = 1; i < members.size(); i++) firstRow[i] = firstRow[i - 1] + members.get(i - 1).request().imageCount();
            this.previewSteps = new int[members.size()][];
            this.partialsSent = new int[members.size()];
        }

        @Override
        public void onStep(int step, int total, FloatTensor latents) {
            source.checkRunning(members.stream().map(Member::job).filter(j -> !j.result().isDone()).toList());
            long now = System.nanoTime();
            observer.step(members.getFirst().job(), (now - last) / 1e9);
            last = now;
            boolean anyLeft = false;
            for (Member m : members) {
                Job job = m.job();
                if (job.result().isDone()) continue;
                if (job.cancelled() || !clock.instant().isBefore(job.deadline())) {
                    stopped(job, "request timeout", share(elapsed(started), m.request().imageCount(), totalImages));
                } else {
                    anyLeft = true;
                }
            }
            if (!anyLeft) throw new GenerationCancelled("every job of the batch was cancelled or timed out");
            for (Member m : members) {
                if (!m.job().result().isDone()) observer.progress(m.job(), step, total);
            }
            boolean previewed = false;
            for (int k = 0; k < members.size(); k++) {
                Job job = members.get(k).job();
                int wanted = job.spec().partialImages();
                if (wanted <= 0 || step >= total || job.result().isDone()) continue;
                if (previewSteps[k] == null) previewSteps[k] = previewSteps(wanted, total);
                if (partialsSent[k] < previewSteps[k].length && step == previewSteps[k][partialsSent[k]]) {
                    int images = members.get(k).request().imageCount();
                    for (int i = 0; i < images; i++) {
                        job.listener().onPartialImage(i, partialsSent[k], pipeline.preview(latents, firstRow[k] + i));
                    }
                    partialsSent[k]++;
                    previewed = true;
                }
            }
            if (previewed) last = System.nanoTime(); // previews are not step time
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
