package dev.easel.server.api;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.easel.server.auth.ApiKey;
import dev.easel.server.auth.TierLimiter;
import dev.easel.server.catalog.ModelCatalog;
import dev.easel.server.catalog.ModelEntry;
import dev.easel.server.image.ImageFormat;
import dev.easel.server.jobs.Job;
import dev.easel.server.jobs.JobFailure;
import dev.easel.server.jobs.JobListener;
import dev.easel.server.jobs.JobResult;
import dev.easel.server.jobs.JobSpec;
import dev.easel.server.jobs.RecordedJobs;
import dev.easel.server.storage.ApiKeyStore;
import dev.easel.server.storage.JobBlobs;
import dev.easel.server.storage.JobStore;
import dev.easel.server.storage.JobStore.JobRecord;
import dev.easel.server.storage.JobStore.State;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.time.Clock;
import java.util.HashSet;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.concurrent.Executors;

/**
 * Jobs as records that any node sharing the database can run: what a record holds to be run elsewhere ({@link
 * #specJson}: the request, and for async jobs how to render its result), the job a claiming node builds from it, how
 * that node ends it (an async job: its result body, webhook and limit lease; another node's synchronous job: its
 * images handed over, and its streamed previews as they are made), and how the accepting node answers its waiting
 * client from the record, its previews first.
 */
final class ClaimedJobs implements RecordedJobs {
    private static final Logger log = LoggerFactory.getLogger(ClaimedJobs.class);

    private final JobStore store;
    private final ApiKeyStore keys;
    private final ModelCatalog catalog;
    private final TierLimiter limiter;
    private final ResultBodies bodies;
    private final JobRecords records;
    private final ObjectMapper json;
    private final Clock clock;
    /** This node's waiting jobs run elsewhere that stream: what of their previews went out. */
    private final Map<String, Delivered> delivered = new ConcurrentHashMap<>();
    /** Ends jobs off the device thread (encoding, database, webhooks). */
    private final Executor finisher = Executors.newVirtualThreadPerTaskExecutor();

    ClaimedJobs(JobStore store, ApiKeyStore keys, ModelCatalog catalog, TierLimiter limiter, ResultBodies bodies,
                JobRecords records, ObjectMapper json, Clock clock) {
        this.store = store;
        this.keys = keys;
        this.catalog = catalog;
        this.limiter = limiter;
        this.bodies = bodies;
        this.records = records;
        this.json = json;
        this.clock = clock;
    }

    /** The job as any node runs it; {@code urlBase}: the links' base of an async job's url images (null: b64_json). */
    static ObjectNode specJson(ObjectMapper json, PreparedJob prep, String urlBase) {
        JobSpec s = prep.spec();
        ObjectNode o = json.createObjectNode();
        o.put("endpoint", s.endpoint());
        o.put("prompt", s.prompt());
        if (s.negativePrompt() != null) o.put("negative_prompt", s.negativePrompt());
        o.put("width", s.width());
        o.put("height", s.height());
        if (s.steps() != null) o.put("steps", s.steps());
        if (s.guidanceScale() != null) o.put("guidance_scale", s.guidanceScale());
        if (s.sampler() != null) o.put("sampler", s.sampler());
        o.put("seed", s.seed());
        o.put("n", s.n());
        if (s.strength() != null) o.put("strength", s.strength());
        o.put("has_input", s.initImage().isPresent());
        if (s.partialImages() > 0) o.put("partial_images", s.partialImages());
        if (s.user() != null) o.put("user", s.user());
        ObjectNode out = o.putObject("output");
        out.put("format", prep.params().outputFormat().id());
        out.put("compression", prep.params().outputCompression());
        if (urlBase != null) out.put("url_base", urlBase);
        return o;
    }

    /** An edit's inputs as stored with its record, or null for a generation. */
    static byte[] inputs(PreparedJob prep) {
        JobSpec s = prep.spec();
        return s.initImage().map(image -> JobBlobs.inputs(image, s.mask())).orElse(null);
    }

    private JsonNode spec(JobRecord r) {
        if (r.specJson() == null) throw new IllegalStateException("job " + r.id() + " has no spec to run it elsewhere");
        try {
            return json.readTree(r.specJson());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @Override
    public Job fromRecord(JobRecord r) {
        JsonNode o = spec(r);
        ApiKey key = keys.find(r.keyId()).orElseThrow(() -> new IllegalStateException("the key of job " + r.id() + " is gone"));
        ModelEntry model = catalog.find(r.model()).filter(ModelEntry::available).orElseThrow(() ->
                ApiException.unprocessable("model", "model_not_available", "The model '" + r.model() + "' cannot be used on this node."));
        Optional<JobBlobs.Inputs> inputs = o.path("has_input").asBoolean()
                ? Optional.of(JobBlobs.readInputs(store.data(r.id(), "input").orElseThrow(() ->
                        new IllegalStateException("the input image of job " + r.id() + " is missing"))))
                : Optional.empty();
        JobSpec spec = new JobSpec(o.path("endpoint").asText(), o.path("prompt").asText(), text(o, "negative_prompt"),
                o.path("width").asInt(), o.path("height").asInt(), o.has("steps") ? o.path("steps").asInt() : null,
                o.has("guidance_scale") ? (float) o.path("guidance_scale").asDouble() : null, text(o, "sampler"),
                o.path("seed").asLong(), o.path("n").asInt(), inputs.map(JobBlobs.Inputs::image),
                o.has("strength") ? (float) o.path("strength").asDouble() : null,
                inputs.flatMap(JobBlobs.Inputs::mask), r.async() ? 0 : o.path("partial_images").asInt(0), text(o, "user"));
        JsonNode out = o.path("output");
        // another node's client streams: its previews go to it through the database, before the end
        PreviewPublisher previews = spec.partialImages() > 0
                ? new PreviewPublisher(store, format(out), out.path("compression").asInt(100), finisher) : null;
        Job job = new Job(r.id(), key, model, spec, previews != null ? previews : JobListener.NONE, r.createdAt(), r.deadline());
        if (previews != null) previews.of(job);
        job.result().handleAsync((result, failure) -> {
            if (previews != null) previews.published().join();
            end(r, job, out, result, failure);
            return null;
        }, finisher);
        return job;
    }

    private static String text(JsonNode o, String field) {
        return o.hasNonNull(field) ? o.path(field).asText() : null;
    }

    /** On the node that ran it: writes how a claimed job ended, under its claim's attempt. */
    private void end(JobRecord r, Job job, JsonNode out, JobResult result, Throwable failure) {
        try {
            if (!r.async()) {
                // another node's client waits: hand the images over, that node answers
                boolean ended = result != null
                        ? store.finishHandoff(r.id(), job.attempt(), handoffJson(result), JobBlobs.images(result.images()), clock.instant())
                        : records.ended(job, null, failure, null, null);
                if (!ended) log.info("job {} was ended by another claim; attempt {} is dropped", r.id(), job.attempt());
                return;
            }
            String body = null;
            if (result != null) {
                ImageFormat format = format(out);
                String base = out.hasNonNull("url_base") ? out.path("url_base").asText() : null;
                body = json.writeValueAsString(bodies.body(result, format, out.path("compression").asInt(100), base,
                        job.spec(), job.model().id()));
            }
            endAsync(r, records.ended(job, result, failure, "inline", body));
        } catch (IOException | RuntimeException e) {
            log.error("could not record the end of job {}", r.id(), e);
        }
    }

    private static ImageFormat format(JsonNode out) {
        return ImageFormat.parse(out.path("format").asText("png")).orElse(ImageFormat.PNG);
    }

    private void endAsync(JobRecord r, boolean ended) {
        if (!ended) return;
        if (r.limitLease() != null) limiter.releaseLease(r.limitLease());
        if (r.webhookUrl() != null) {
            Optional<String> secret = keys.webhook(r.keyId()).secret();
            if (secret.isPresent()) records.sendWebhook(r.id(), r.webhookUrl(), secret.get());
        }
    }

    private String handoffJson(JobResult r) {
        ObjectNode o = json.createObjectNode();
        o.put("seed", r.seed());
        o.put("steps", r.steps());
        o.put("guidance_scale", r.guidanceScale());
        if (r.sampler() != null) o.put("sampler", r.sampler());
        o.put("compute_ms", r.computeMillis());
        return o.toString();
    }

    @Override
    public void cannotRun(JobRecord r, RuntimeException why) {
        log.warn("job {} cannot run on this node: {}", r.id(), why.getMessage());
        ApiException api = why instanceof ApiException a ? a : Errors.toApi(new JobFailure.Internal(why));
        boolean ended = store.finishClaim(r.id(), r.attempt(), State.FAILED, null, null, Errors.body(json, api).toString(),
                api.status(), clock.instant());
        if (r.async()) endAsync(r, ended);
    }

    /** What of a waiting job's remote previews has gone to its client. */
    private static final class Delivered {
        String lastKind = "pv";
        final Set<String> sent = new HashSet<>();
        boolean answered;
    }

    @Override
    public void previews(Job local) {
        if (local.spec().partialImages() == 0 || local.result().isDone()) return;
        Delivered d = delivered.computeIfAbsent(local.publicId(), id -> new Delivered());
        synchronized (d) {
            if (!d.answered) deliver(local, d);
        }
    }

    /** Hands the job the previews stored since the last ones it got; once each (a claim run again repeats none). */
    private void deliver(Job local, Delivered d) {
        try {
            for (JobStore.DataRow row : store.previewsAfter(local.publicId(), d.lastKind)) {
                d.lastKind = row.kind();
                JobBlobs.Preview p = JobBlobs.readPreview(row.data());
                if (d.sent.add(p.imageIndex() + "/" + p.partialIndex())) {
                    local.listener().onEncodedPartialImage(p.imageIndex(), p.partialIndex(), p.encoded());
                }
            }
        } catch (RuntimeException e) {
            log.warn("cannot read the previews of job {}: {}", local.publicId(), e.getMessage());
        }
    }

    @Override
    public void answer(Job local, JobRecord r) {
        if (local.spec().partialImages() > 0) {
            // the previews were stored before the end was: all of them go out before the final images
            Delivered d = delivered.computeIfAbsent(local.publicId(), id -> new Delivered());
            synchronized (d) {
                deliver(local, d);
                d.answered = true;
                try {
                    store.clearPreviews(r.id());
                } catch (RuntimeException e) {
                    log.warn("cannot delete the previews of job {}: {}", r.id(), e.getMessage());
                }
                answerEnded(local, r);
            }
            delivered.remove(local.publicId());
        } else {
            answerEnded(local, r);
        }
    }

    private void answerEnded(Job local, JobRecord r) {
        try {
            if (r.state() == State.SUCCEEDED) {
                JsonNode meta = json.readTree(r.resultJson());
                byte[] images = store.data(r.id(), "handoff").orElseThrow(() ->
                        new IllegalStateException("the images of job " + r.id() + " were not handed over"));
                JobResult result = new JobResult(JobBlobs.readImages(images), meta.path("seed").asLong(),
                        meta.path("steps").asInt(), (float) meta.path("guidance_scale").asDouble(), text(meta, "sampler"),
                        meta.path("compute_ms").asLong());
                store.clearHandoff(r.id());
                local.result().complete(result);
            } else {
                local.result().completeExceptionally(error(r));
            }
        } catch (IOException | RuntimeException e) {
            log.error("could not answer job {} from its record", r.id(), e);
            local.result().completeExceptionally(new JobFailure.Internal(e));
        }
    }

    /** The OpenAI error a record ended with, as the exception that answers it again. */
    private ApiException error(JobRecord r) throws IOException {
        JsonNode e = r.errorJson() == null ? json.createObjectNode() : json.readTree(r.errorJson()).path("error");
        int status = r.httpStatus() == null ? 500 : r.httpStatus();
        return new ApiException(status, e.path("type").asText("server_error"), text(e, "code"), text(e, "param"),
                e.path("message").asText("The job ended without a result."), status == 503 ? 30L : null,
                status >= 500 && status != 503 ? null : false);
    }

    /**
     * Cancels a job no node has claimed yet (its end, lease and webhook as if it had run); false if one has claimed it
     * (it then stops at its next step: {@link JobStore#requestCancel}).
     */
    boolean cancelQueued(JobRecord r) {
        ApiException api = Errors.toApi(new JobFailure.Cancelled("cancelled by the client"));
        if (!store.cancelQueued(r.id(), Errors.body(json, api).toString(), api.status(), clock.instant())) return false;
        if (r.async()) endAsync(r, true);
        return true;
    }

    @Override
    public void failOrphans() {
        ApiException api = ApiException.internal("The node running this request stopped before it finished.");
        store.failOrphans(clock.instant(), Errors.body(json, api).toString(), api.status());
        // a synchronous job whose accepting node died is not run (or stops): its client's connection died with that node
        ApiException gone = new ApiException(499, "invalid_request_error", "cancelled", null, "The request was cancelled:"
                + " the node that accepted it stopped before answering, so nobody waits for its result.", null, false);
        int cancelled = store.cancelAcceptorGone(clock.instant(), Errors.body(json, gone).toString(), gone.status());
        if (cancelled > 0) log.info("cancelled {} synchronous job(s) whose accepting node is gone", cancelled);
    }
}
