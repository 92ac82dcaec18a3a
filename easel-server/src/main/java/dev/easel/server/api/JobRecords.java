package dev.easel.server.api;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.easel.server.jobs.Job;
import dev.easel.server.jobs.JobFailure;
import dev.easel.server.jobs.JobResult;
import dev.easel.server.storage.JobStore;
import dev.easel.server.storage.JobStore.JobRecord;
import dev.easel.server.storage.JobStore.State;
import dev.easel.server.webhooks.WebhookSender;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.function.DoubleSupplier;

/**
 * The API's side of job records: writes a job's record when it is accepted and when it ends, keeps this node's
 * live jobs (to cancel them), and renders a record as the job body of {@code /v1/images/jobs}.
 */
final class JobRecords {
    private static final Logger log = LoggerFactory.getLogger(JobRecords.class);

    private final JobStore store;
    private final WebhookSender webhooks;
    private final ObjectMapper json;
    private final Clock clock;
    private final Duration resultTtl;
    private final DoubleSupplier meanJobSeconds;
    /** This node's jobs that have not ended, and the future of their end being recorded. */
    private final Map<String, Live> live = new ConcurrentHashMap<>();

    record Live(Job job, CompletableFuture<?> recorded) {
    }

    JobRecords(JobStore store, WebhookSender webhooks, ObjectMapper json, Clock clock, Duration resultTtl,
               DoubleSupplier meanJobSeconds) {
        this.store = store;
        this.webhooks = webhooks;
        this.json = json;
        this.clock = clock;
        this.resultTtl = resultTtl;
        this.meanJobSeconds = meanJobSeconds;
    }

    JobStore store() {
        return store;
    }

    WebhookSender webhooks() {
        return webhooks;
    }

    void accepted(Job job, PreparedJob prep, boolean async, String webhookUrl) {
        store.insert(new JobStore.NewJob(job.publicId(), job.key().id(), async, prep.spec().endpoint(), prep.model().id(),
                prep.paramsJson(json).toString(), job.key().tier().ordinal(), job.submittedAt(), job.deadline(), webhookUrl));
    }

    /**
     * Records a job that any node sharing the database may run: with its spec and an edit's inputs, the node that
     * accepted it, and (async) the limit lease that whoever ends it releases. False, and nothing recorded, when
     * {@code capacity} jobs of all nodes are queued already (the shared queue is full).
     */
    boolean acceptedShared(Job job, PreparedJob prep, boolean async, String webhookUrl, String node, String urlBase,
                           String limitLease, int capacity) {
        JobStore.NewJob j = new JobStore.NewJob(job.publicId(), job.key().id(), async, prep.spec().endpoint(), prep.model().id(),
                prep.paramsJson(json).toString(), job.key().tier().ordinal(), job.submittedAt(), job.deadline(), webhookUrl,
                ClaimedJobs.specJson(json, prep, urlBase).toString(), node, limitLease);
        return store.insertIfRoom(j, ClaimedJobs.inputs(prep), capacity);
    }

    void track(Job job, CompletableFuture<?> recorded) {
        Live l = new Live(job, recorded);
        live.put(job.publicId(), l);
        recorded.whenComplete((x, e) -> live.remove(job.publicId(), l));
    }

    Optional<Live> live(String id) {
        return Optional.ofNullable(live.get(id));
    }

    /**
     * Writes how a job ended: its result body ({@code resultJson}, async) or its OpenAI error.
     *
     * @return whether this call ended the record (false if it had ended already, or the write failed)
     */
    boolean ended(Job job, JobResult result, Throwable failure, String location, String resultJson) {
        try {
            Instant now = clock.instant();
            int attempt = job.attempt(); // claimed from the shared queue: only this claim may end it
            if (result != null) {
                return attempt > 0
                        ? store.finishClaim(job.publicId(), attempt, State.SUCCEEDED, location, resultJson, null, 200, now)
                        : store.finish(job.publicId(), State.SUCCEEDED, location, resultJson, null, 200, now);
            }
            ApiException api = Errors.toApi(failure);
            State state = unwrap(failure) instanceof JobFailure.Cancelled ? State.CANCELLED : State.FAILED;
            String error = Errors.body(json, api).toString();
            return attempt > 0
                    ? store.finishClaim(job.publicId(), attempt, state, null, null, error, api.status(), now)
                    : store.finish(job.publicId(), state, null, null, error, api.status(), now);
        } catch (RuntimeException e) {
            log.error("could not record the end of job {}", job.publicId(), e);
            return false;
        }
    }

    private static Throwable unwrap(Throwable t) {
        while ((t instanceof java.util.concurrent.CompletionException || t instanceof java.util.concurrent.ExecutionException)
                && t.getCause() != null) {
            t = t.getCause();
        }
        return t;
    }

    /** Sends the webhook of an ended job: its body as the event's data. */
    void sendWebhook(String id, String url, String secret) {
        JobRecord r = store.find(id).orElseThrow();
        ObjectNode event = json.createObjectNode();
        event.put("type", "image_job." + r.state().id());
        event.put("timestamp", clock.instant().toString());
        event.set("data", body(r));
        webhooks.send(id, url, secret, event.toString());
    }

    Optional<JobRecord> find(String id) {
        return store.find(id);
    }

    /** Waits up to {@code timeout} for a live job's end to be recorded. */
    void awaitEnd(Live l, Duration timeout) {
        try {
            l.recorded().get(timeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (Exception e) {
            // still running, or failed: the caller reads the record as it is
        }
    }

    /** The job body: status, queue position, progress, ETA; the result or error once it ended; webhook delivery. */
    ObjectNode body(JobRecord r) {
        ObjectNode o = json.createObjectNode();
        o.put("id", r.id());
        o.put("object", "image.job");
        o.put("status", r.state().id());
        o.put("operation", r.endpoint().equals("edits") ? "edit" : "generation");
        o.put("mode", r.async() ? "async" : "sync");
        o.put("model", r.model());
        o.put("created_at", r.createdAt().getEpochSecond());
        r.startedAt().ifPresentOrElse(t -> o.put("started_at", t.getEpochSecond()), () -> o.putNull("started_at"));
        r.finishedAt().ifPresentOrElse(t -> o.put("finished_at", t.getEpochSecond()), () -> o.putNull("finished_at"));
        double mean = meanJobSeconds.getAsDouble();
        if (r.state() == State.QUEUED) {
            int position = store.queuePosition(r);
            o.put("queue_position", position);
            o.put("eta_seconds", Math.round((position + 1) * mean));
        } else {
            o.putNull("queue_position");
        }
        ObjectNode progress = o.putObject("progress");
        progress.put("step", r.step());
        progress.put("total_steps", r.totalSteps());
        if (r.state() == State.RUNNING) {
            long elapsed = r.startedAt().map(t -> Duration.between(t, clock.instant()).toMillis()).orElse(0L);
            double eta = r.step() > 0 && r.totalSteps() > 0
                    ? elapsed / 1000.0 / r.step() * (r.totalSteps() - r.step())
                    : Math.max(0, mean - elapsed / 1000.0);
            o.put("eta_seconds", Math.round(eta));
        }
        if (r.state().ended()) o.put("eta_seconds", 0);
        ObjectNode params = parse(r.paramsJson());
        if (params != null) o.set("parameters", params);
        boolean expired = "expired".equals(r.resultLocation()) || r.state() == State.SUCCEEDED && r.async()
                && r.finishedAt().map(t -> !clock.instant().isBefore(t.plus(resultTtl))).orElse(false);
        if (r.state() == State.SUCCEEDED && r.async() && !expired && r.resultJson() != null) {
            o.set("result", parse(r.resultJson()));
        } else {
            o.putNull("result");
        }
        if (expired) o.put("result_expired", true);
        if (r.state() == State.SUCCEEDED && r.async()) {
            r.finishedAt().ifPresent(t -> o.put("result_expires_at", t.plus(resultTtl).getEpochSecond()));
        }
        if (r.errorJson() != null) {
            ObjectNode err = parse(r.errorJson());
            o.set("error", err == null ? null : err.get("error"));
        } else {
            o.putNull("error");
        }
        if (r.webhookUrl() != null) {
            ObjectNode w = o.putObject("webhook");
            w.put("url", r.webhookUrl());
            w.put("status", r.webhookState());
            w.put("attempts", r.webhookAttempts());
            if (r.webhookLastStatus() != null) w.put("last_response_status", r.webhookLastStatus());
            if (r.webhookLastError() != null) w.put("last_error", r.webhookLastError());
            r.webhookDeliveredAt().ifPresent(t -> w.put("delivered_at", t.getEpochSecond()));
        }
        return o;
    }

    private ObjectNode parse(String text) {
        if (text == null) return null;
        try {
            JsonNode n = json.readTree(text);
            return n instanceof ObjectNode o ? o : null;
        } catch (IOException e) {
            return null;
        }
    }
}
