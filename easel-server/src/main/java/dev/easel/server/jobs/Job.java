package dev.easel.server.jobs;

import dev.easel.server.auth.ApiKey;
import dev.easel.server.catalog.ModelEntry;
import dev.easel.server.storage.JobStore;

import java.time.Instant;
import java.util.Comparator;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicLong;

/**
 * One request's work: queued on a device, run, and completed through {@link #result()}.
 * Jobs are ordered by the key's tier (premium first), then by arrival.
 */
public final class Job {
    private static final AtomicLong SEQUENCE = new AtomicLong();

    static final Comparator<Job> ORDER = Comparator.<Job>comparingInt(j -> -j.key.tier().ordinal())
            .thenComparingLong(j -> j.sequence);

    private final long sequence = SEQUENCE.incrementAndGet();
    private final String publicId;
    private final ApiKey key;
    private final ModelEntry model;
    private final JobSpec spec;
    private final JobListener listener;
    private final Instant submittedAt;
    private final Instant deadline;
    private final CompletableFuture<JobResult> result = new CompletableFuture<>();
    private volatile String cancelReason;
    private volatile DeviceWorker worker;
    /** The claim this node runs the job under (its record's attempt); 0 until claimed from a shared queue. */
    private volatile int attempt;

    public Job(ApiKey key, ModelEntry model, JobSpec spec, JobListener listener, Instant submittedAt, Instant deadline) {
        this(JobStore.newId(), key, model, spec, listener, submittedAt, deadline);
    }

    /** @param publicId the id of the job's record ({@link JobStore}) */
    public Job(String publicId, ApiKey key, ModelEntry model, JobSpec spec, JobListener listener, Instant submittedAt,
               Instant deadline) {
        this.publicId = publicId;
        this.key = key;
        this.model = model;
        this.spec = spec;
        this.listener = listener;
        this.submittedAt = submittedAt;
        this.deadline = deadline;
    }

    public long id() {
        return sequence;
    }

    /** The id of the job's record, as clients see it ("job_..."). */
    public String publicId() {
        return publicId;
    }

    public ApiKey key() {
        return key;
    }

    public ModelEntry model() {
        return model;
    }

    public JobSpec spec() {
        return spec;
    }

    public JobListener listener() {
        return listener;
    }

    public Instant submittedAt() {
        return submittedAt;
    }

    public Instant deadline() {
        return deadline;
    }

    public CompletableFuture<JobResult> result() {
        return result;
    }

    /**
     * Cancels the job: a waiting job leaves the queue now, a running one stops at its next step.
     * Its result completes with {@link JobFailure.Cancelled}.
     */
    public void cancel(String reason) {
        if (result.isDone()) return;
        cancelReason = reason;
        DeviceWorker w = worker;
        if (w != null) w.cancelWaiting(this);
    }

    public boolean cancelled() {
        return cancelReason != null;
    }

    String cancelReason() {
        return cancelReason;
    }

    /** Marks the job to stop at its next step, without touching any queue (its record asked for it). */
    void markCancelled(String reason) {
        if (cancelReason == null) cancelReason = reason;
    }

    /** The attempt of the record's claim under which this node runs the job; 0 when not claimed from the database. */
    public int attempt() {
        return attempt;
    }

    void claimed(int attempt) {
        this.attempt = attempt;
    }

    void assignTo(DeviceWorker worker) {
        this.worker = worker;
    }
}
