package dev.easel.server.api;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.easel.diffusion.image.RgbImage;
import dev.easel.server.auth.ApiKey;
import dev.easel.server.auth.TierLimiter;
import dev.easel.server.catalog.ModelCatalog;
import dev.easel.server.catalog.ModelEntry;
import dev.easel.server.config.ServerConfig;
import dev.easel.server.image.ImageEncoder;
import dev.easel.server.image.ImageFormat;
import dev.easel.server.jobs.Job;
import dev.easel.server.jobs.JobFailure;
import dev.easel.server.jobs.JobListener;
import dev.easel.server.jobs.JobResult;
import dev.easel.server.jobs.JobScheduler;
import dev.easel.server.jobs.JobSpec;
import dev.easel.server.metrics.ServerMetrics;
import dev.easel.server.storage.JobStore;
import io.javalin.http.Context;
import jakarta.servlet.http.HttpServletResponse;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executor;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * What the two image endpoints share once a request is parsed: model lookup and tier check, size
 * rules, per-key limits, the job, and the answer (JSON, or server-sent events with {@code stream}).
 */
final class ImageService {
    /** The sizes OpenAI's enums name; others are reported as "auto" where the field is required. */
    private static final Set<String> OPENAI_SIZES = Set.of("1024x1024", "1024x1536", "1536x1024");
    private static final Duration KEEP_ALIVE = Duration.ofSeconds(2);

    private final ServerConfig config;
    private final ModelCatalog catalog;
    private final TierLimiter limiter;
    private final JobScheduler scheduler;
    private final ServerMetrics metrics;
    private final ObjectMapper json;
    private final Clock clock;
    private final ClientWatch clients;
    private final JobRecords records;
    private final ResultBodies bodies;
    /** This node's name; with a shared database, jobs are records any node's device may claim. */
    private final String node;
    private final boolean shared;
    /** Encodes async results off the device thread. */
    private final Executor finisher = Executors.newVirtualThreadPerTaskExecutor();

    ImageService(ServerConfig config, ModelCatalog catalog, TierLimiter limiter, JobScheduler scheduler,
                 ServerMetrics metrics, ObjectMapper json, Clock clock, ClientWatch clients,
                 JobRecords records, ResultBodies bodies, String node, boolean shared) {
        this.records = records;
        this.bodies = bodies;
        this.node = node;
        this.shared = shared;
        this.config = config;
        this.catalog = catalog;
        this.limiter = limiter;
        this.scheduler = scheduler;
        this.metrics = metrics;
        this.json = json;
        this.clock = clock;
        this.clients = clients;
    }

    ServerConfig config() {
        return config;
    }

    /** The model asked for, if this key may use it and it can run. */
    ModelEntry model(ApiKey key, ImageParams p) {
        String id = p.model().orElse(config.defaultModel());
        ModelEntry m = catalog.find(id).orElseThrow(() -> ApiException.notFound("model", "model_not_found",
                "The model '" + id + "' does not exist. GET /v1/models lists the models of this server."));
        if (!key.tier().includes(m.tier())) {
            throw ApiException.forbidden("model", "tier_required", "The model '" + id + "' needs a " + m.tier().id()
                    + " tier key or higher; this key is " + key.tier().id() + " tier.");
        }
        m = catalog.pullIfMissing(m); // `easel serve --pull`: 503 while a missing catalog model downloads
        if (!m.available()) {
            throw ApiException.unprocessable("model", "model_not_available",
                    "The model '" + id + "' cannot be used: " + m.unavailable().get() + ".");
        }
        int maxN = limiter.limits(key.tier()).maxN();
        if (p.n() > maxN) {
            throw ApiException.badRequest("n", "integer_above_max_value",
                    "Invalid 'n': the " + key.tier().id() + " tier allows at most " + maxN + " images per request.");
        }
        return m;
    }

    /**
     * The output size: {@code width}/{@code height}, or {@code size}, or (edits with size auto) the input
     * image's size brought within the model's bounds, or the model's default.
     */
    int[] size(ModelEntry m, ImageParams p, Optional<int[]> inputSize) {
        int w;
        int h;
        boolean explicit = p.size().isPresent() && !p.size().get().equals("auto");
        if (p.width().isPresent()) {
            w = p.width().get();
            h = p.height().get();
            if (explicit && !p.size().get().equals(w + "x" + h)) {
                throw ApiException.invalidValue("size", "'size' and 'width'/'height' disagree; give one of them.");
            }
        } else if (explicit) {
            int[] s = ModelCatalog.parseSize(p.size().get()).orElseThrow(() -> ApiException.badRequest("size", "invalid_size",
                    "Invalid size '" + p.size().get() + "'."));
            w = s[0];
            h = s[1];
        } else if (inputSize.isPresent()) {
            return fit(m, inputSize.get()[0], inputSize.get()[1]);
        } else {
            return new int[]{m.defaultWidth(), m.defaultHeight()};
        }
        int k = m.sizeMultiple();
        if (w < m.minSide() || h < m.minSide() || w > m.maxSide() || h > m.maxSide()) {
            throw ApiException.badRequest("size", "invalid_size", "Invalid size " + w + "x" + h + " for '" + m.id()
                    + "': each side must be between " + m.minSide() + " and " + m.maxSide() + " pixels.");
        }
        if (w % k != 0 || h % k != 0) {
            throw ApiException.badRequest("size", "invalid_size", "Invalid size " + w + "x" + h + " for '" + m.id()
                    + "': width and height must be multiples of " + k + " (for example " + (w / k * k) + "x" + (h / k * k) + ").");
        }
        return new int[]{w, h};
    }

    /** An input image's size, scaled into the model's bounds (aspect kept) and rounded to its multiple. */
    static int[] fit(ModelEntry m, int w, int h) {
        double scale = 1;
        if (Math.max(w, h) > m.maxSide()) scale = (double) m.maxSide() / Math.max(w, h);
        if (Math.min(w, h) * scale < m.minSide()) scale = (double) m.minSide() / Math.min(w, h);
        int k = m.sizeMultiple();
        int tw = clamp((int) Math.round(w * scale / k) * k, m, k);
        int th = clamp((int) Math.round(h * scale / k) * k, m, k);
        return new int[]{tw, th};
    }

    private static int clamp(int v, ModelEntry m, int k) {
        int lo = (m.minSide() + k - 1) / k * k;
        int hi = m.maxSide() / k * k;
        return Math.max(lo, Math.min(hi, v));
    }

    long seed(ImageParams p) {
        return p.seed().orElseGet(() -> ThreadLocalRandom.current().nextLong(1L << 32));
    }

    /** Checks the limits, queues the job and answers the request with its images. */
    void run(Context ctx, PreparedJob prep) {
        ImageParams p = prep.params();
        JobSpec spec = prep.spec();
        TierLimiter.Reservation reservation = reserve(prep);
        BlockingQueue<Object> events = new LinkedBlockingQueue<>();
        JobListener listener = p.stream() ? new JobListener() {
            @Override
            public void onPartialImage(int imageIndex, int partialIndex, RgbImage preview) {
                events.add(new Partial(imageIndex, partialIndex, preview, null));
            }

            @Override
            public void onEncodedPartialImage(int imageIndex, int partialIndex, byte[] encoded) {
                events.add(new Partial(imageIndex, partialIndex, null, encoded)); // made by the node that ran it
            }
        } : JobListener.NONE;
        Job job = newJob(prep, listener);
        job.result().whenComplete((r, e) -> reservation.release(r == null ? 0 : r.images().size()));
        try {
            if (shared) acceptShared(job, prep, false, null, null, null);
            else records.accepted(job, prep, false, null);
        } catch (RuntimeException e) {
            reservation.release(0);
            throw e;
        }
        // A synchronous job's images go out on the connection: the record keeps how it ended, not the images.
        records.track(job, job.result().handle((r, e) -> {
            records.ended(job, r, e, "response", null);
            return null;
        }));
        submit(job, reservation);
        try (ClientWatch.Registration watch = clients.watch(ctx, () -> job.cancel("the client disconnected"))) {
            if (p.stream()) {
                job.result().whenComplete((r, e) -> events.add(r != null ? r : e));
                stream(ctx, job, p, spec, prep.edit(), events);
            } else {
                JobResult r = await(job);
                ctx.contentType("application/json").result(bytes(resultBody(r, p, spec, job.model().id(), p.urlResponse() ? baseUrl(ctx) : null)));
            }
        }
    }

    /**
     * Accepts an async job: checks the limits, records and queues it, and returns at once. When it ends, its
     * result (the body the synchronous call would return) or error is written on its record and its webhook, if
     * any, is called.
     */
    JobStore.JobRecord submitAsync(Context ctx, PreparedJob prep, String webhookUrl, String webhookSecret) {
        if (prep.params().stream()) {
            throw ApiException.invalidValue("stream", "Async jobs do not stream; poll GET /v1/images/jobs/{id} or use a webhook.");
        }
        ImageParams p = prep.params();
        String base = p.urlResponse() ? baseUrl(ctx) : null;
        if (shared) return submitShared(prep, base, webhookUrl);
        TierLimiter.Reservation reservation = reserve(prep);
        Job job = newJob(prep, JobListener.NONE);
        job.result().whenComplete((r, e) -> reservation.release(r == null ? 0 : r.images().size()));
        records.accepted(job, prep, true, webhookUrl);
        records.track(job, job.result().handleAsync((r, e) -> {
            String body = r == null ? null : string(resultBody(r, p, prep.spec(), job.model().id(), base));
            if (records.ended(job, r, e, "inline", body) && webhookUrl != null) records.sendWebhook(job.publicId(), webhookUrl, webhookSecret);
            return null;
        }, finisher));
        submit(job, reservation);
        return records.find(job.publicId()).orElseThrow();
    }

    /**
     * An async job on a shared database: only a record, which whichever node's device is free claims and ends (its
     * result, webhook and limit lease: {@link ClaimedJobs}). Nothing of it stays on this node.
     */
    private JobStore.JobRecord submitShared(PreparedJob prep, String base, String webhookUrl) {
        if (!scheduler.accepting()) throw Errors.toApi(new JobFailure.ShuttingDown());
        TierLimiter.Reservation reservation = reserve(prep);
        Job job = newJob(prep, JobListener.NONE);
        try {
            acceptShared(job, prep, true, webhookUrl, base, reservation.leaseId());
        } catch (RuntimeException e) {
            reservation.release(0);
            throw e;
        }
        return records.find(job.publicId()).orElseThrow();
    }

    /**
     * Records a job in the queue every node shares, if it has room: {@code queue.capacity} bounds the queued jobs of
     * all nodes, synchronous and async alike, and a full queue answers as a full device does (503 server_busy).
     */
    private void acceptShared(Job job, PreparedJob prep, boolean async, String webhookUrl, String base, String lease) {
        if (!records.acceptedShared(job, prep, async, webhookUrl, node, base, lease, config.queue().capacity())) {
            JobFailure.QueueFull full = new JobFailure.QueueFull(scheduler.devices().getFirst().retryAfterSeconds());
            metrics.rejected(Errors.toApi(full).code());
            throw full;
        }
    }

    private TierLimiter.Reservation reserve(PreparedJob prep) {
        try {
            return limiter.reserve(prep.key(), prep.spec().n(), scheduler.devices().getFirst().retryAfterSeconds());
        } catch (RuntimeException e) {
            metrics.rejected(Errors.toApi(e).code());
            throw e;
        }
    }

    private Job newJob(PreparedJob prep, JobListener listener) {
        Instant now = clock.instant();
        return new Job(prep.key(), prep.model(), prep.spec(), listener, now, now.plusSeconds(config.queue().requestTimeoutSeconds()));
    }

    private void submit(Job job, TierLimiter.Reservation reservation) {
        try {
            scheduler.submit(job);
        } catch (JobFailure e) {
            reservation.release(0);
            metrics.rejected(Errors.toApi(e).code());
            job.result().completeExceptionally(e); // ends its record
            throw e;
        }
    }

    private JobResult await(Job job) {
        long waitMillis = Duration.between(clock.instant(), job.deadline()).toMillis() + 10_000;
        try {
            return job.result().get(Math.max(1, waitMillis), TimeUnit.MILLISECONDS);
        } catch (ExecutionException e) {
            throw Errors.toApi(e.getCause());
        } catch (TimeoutException e) {
            job.cancel("request timeout");
            throw Errors.toApi(new JobFailure.TimedOut(true));
        } catch (InterruptedException e) {
            job.cancel("the server is shutting down");
            Thread.currentThread().interrupt();
            throw Errors.toApi(new JobFailure.ShuttingDown());
        }
    }

    /** The body of a successful synchronous call; {@code base} is the links' base with {@code response_format=url}. */
    ObjectNode resultBody(JobResult r, ImageParams p, JobSpec spec, String modelId, String base) {
        return bodies.body(r, p.outputFormat(), p.outputCompression(), p.urlResponse() ? base : null, spec, modelId);
    }

    private byte[] bytes(ObjectNode body) {
        try {
            return json.writeValueAsBytes(body);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    private String string(ObjectNode body) {
        return new String(bytes(body), StandardCharsets.UTF_8);
    }

    private ObjectNode usage(JobResult r, JobSpec spec) {
        return bodies.usage(r, spec);
    }

    private String baseUrl(Context ctx) {
        String configured = config.publicUrl();
        if (configured != null && !configured.isBlank()) {
            return configured.endsWith("/") ? configured.substring(0, configured.length() - 1) : configured;
        }
        return ctx.scheme() + "://" + ctx.host();
    }

    /** A preview: made here ({@code image}, encoded when sent) or by another node ({@code encoded} as sent). */
    private record Partial(int imageIndex, int partialIndex, RgbImage image, byte[] encoded) {
        byte[] bytes(ImageParams p) {
            return encoded != null ? encoded : ImageEncoder.encode(image, p.outputFormat(), p.outputCompression());
        }
    }

    /** Server-sent events as OpenAI sends them and the SDKs parse them. */
    private void stream(Context ctx, Job job, ImageParams p, JobSpec spec, boolean edit, BlockingQueue<Object> events) {
        String prefix = edit ? "image_edit." : "image_generation.";
        HttpServletResponse res = ctx.res();
        res.setStatus(200);
        res.setContentType("text/event-stream");
        res.setCharacterEncoding("utf-8");
        res.setHeader("Cache-Control", "no-cache");
        res.setHeader("X-Accel-Buffering", "no");
        String size = spec.width() + "x" + spec.height();
        String sizeEnum = OPENAI_SIZES.contains(size) ? size : "auto";
        try {
            OutputStream out = res.getOutputStream();
            out.write(": easel\n\n".getBytes(StandardCharsets.UTF_8));
            out.flush();
            while (true) {
                Object event = events.poll(KEEP_ALIVE.toMillis(), TimeUnit.MILLISECONDS);
                if (event == null) {
                    out.write(": keep-alive\n\n".getBytes(StandardCharsets.UTF_8));
                    out.flush();
                    continue;
                }
                switch (event) {
                    case Partial partial -> {
                        ObjectNode e = json.createObjectNode();
                        e.put("type", prefix + "partial_image");
                        e.put("b64_json", Base64.getEncoder().encodeToString(partial.bytes(p)));
                        e.put("created_at", clock.instant().getEpochSecond());
                        e.put("size", sizeEnum);
                        e.put("quality", "auto");
                        e.put("background", "opaque");
                        e.put("output_format", p.outputFormat().id());
                        e.put("partial_image_index", partial.partialIndex());
                        e.put("image_index", partial.imageIndex());
                        writeEvent(out, prefix + "partial_image", e);
                    }
                    case JobResult r -> {
                        for (int i = 0; i < r.images().size(); i++) {
                            ObjectNode e = json.createObjectNode();
                            e.put("type", prefix + "completed");
                            e.put("b64_json", Base64.getEncoder().encodeToString(
                                    ImageEncoder.encode(r.images().get(i), p.outputFormat(), p.outputCompression())));
                            e.put("created_at", clock.instant().getEpochSecond());
                            e.put("size", sizeEnum);
                            e.put("quality", "auto");
                            e.put("background", "opaque");
                            e.put("output_format", p.outputFormat().id());
                            e.set("usage", usage(r, spec));
                            e.put("image_index", i);
                            e.put("seed", r.seed());
                            e.put("width", spec.width());
                            e.put("height", spec.height());
                            writeEvent(out, prefix + "completed", e);
                        }
                        return;
                    }
                    case Throwable t -> {
                        ApiException api = Errors.toApi(t);
                        ObjectNode e = Errors.body(json, api);
                        e.put("type", "error");
                        writeEvent(out, "error", e);
                        return;
                    }
                    default -> throw new IllegalStateException("unexpected event " + event);
                }
            }
        } catch (IOException e) {
            job.cancel("the client disconnected");
        } catch (InterruptedException e) {
            job.cancel("the server is shutting down");
            Thread.currentThread().interrupt();
        }
    }

    private void writeEvent(OutputStream out, String name, ObjectNode data) throws IOException {
        out.write(("event: " + name + "\ndata: ").getBytes(StandardCharsets.UTF_8));
        out.write(json.writeValueAsBytes(data));
        out.write("\n\n".getBytes(StandardCharsets.UTF_8));
        out.flush();
    }
}
