package dev.easel.server.api;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.easel.server.auth.ApiKey;
import dev.easel.server.auth.Authenticator;
import dev.easel.server.auth.TierLimiter;
import dev.easel.server.catalog.ModelCache;
import dev.easel.server.catalog.ModelCatalog;
import dev.easel.server.catalog.PipelineLoader;
import dev.easel.server.config.ServerConfig;
import dev.easel.server.hub.HubClient;
import dev.easel.server.hub.ModelDownloads;
import dev.easel.server.hub.ModelPuller;
import dev.easel.server.image.ImageDecoder;
import dev.easel.server.jobs.DeviceWorker;
import dev.easel.server.jobs.JobObservers;
import dev.easel.server.jobs.JobRecorder;
import dev.easel.server.jobs.LocalQueue;
import dev.easel.server.jobs.SharedQueue;
import dev.easel.server.storage.JobEvents;
import dev.easel.server.storage.JobStore;
import dev.easel.server.storage.LimitStore;
import dev.easel.server.webhooks.WebhookSender;
import dev.easel.server.webhooks.WebhookTargets;
import dev.easel.server.config.ConfigException;
import dev.easel.server.jobs.JobScheduler;
import dev.easel.server.jobs.UsageRecorder;
import dev.easel.server.metrics.ServerMetrics;
import dev.easel.server.storage.ApiKeyStore;
import dev.easel.server.storage.Database;
import dev.easel.server.storage.UrlImageStore;
import dev.easel.server.storage.UsageStore;
import io.javalin.Javalin;
import io.javalin.compression.CompressionStrategy;
import io.javalin.http.Context;
import io.javalin.http.HandlerType;
import io.javalin.json.JavalinJackson;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The HTTP service: OpenAI's image endpoints, models, usage, key administration, health and metrics,
 * on Javalin (Jetty 12) with a virtual thread per request. Start with {@link #start}; stop with
 * {@link #shutdown}, which stops taking requests, finishes the queued and running jobs, answers them,
 * and only then closes the listener.
 */
public final class EaselServer implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(EaselServer.class);
    private static final Logger requestLog = LoggerFactory.getLogger("dev.easel.server.requests");

    private final ServerConfig config;
    private final Database db;
    private final ApiKeyStore keys;
    private final JobScheduler scheduler;
    private final ServerMetrics metrics;
    private final ScheduledExecutorService housekeeping;
    private final Javalin app;
    private final ClientWatch clientWatch;
    private final Optional<String> initialAdminSecret;
    private final String node;
    private final WebhookSender webhooks;
    /** PostgreSQL: the other nodes' job changes (LISTEN), null on SQLite. */
    private final JobEvents jobEvents;
    private final AtomicInteger inFlight = new AtomicInteger();
    private final Instant startedAt;
    private volatile boolean draining;
    private boolean stopped;

    private EaselServer(ServerConfig config, PipelineLoader loader, Clock clock) {
        this.config = config;
        this.startedAt = clock.instant();
        Path tempDir = config.dataDir().resolve("tmp");
        try {
            Files.createDirectories(tempDir);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create " + tempDir, e);
        }
        this.db = Database.open(config);
        this.node = nodeName(config);
        this.keys = new ApiKeyStore(db, clock);
        UsageStore usage = new UsageStore(db);
        this.initialAdminSecret = keys.createFirstAdmin().map(ApiKeyStore.Created::secret);
        // url images live in the database: any node sharing it serves any link
        UrlImageStore files = new UrlImageStore(db, Duration.ofSeconds(config.images().urlTtlSeconds()), clock);
        ModelCatalog catalog = new ModelCatalog(config, clock);
        if (config.hub().pullMissing()) {
            ModelPuller puller = new ModelPuller(HubClient.fromEnvironment(config.hub().endpoint(), System.getenv()),
                    config.modelsDir(), ModelPuller.Options.of(config.hub().parallelFiles(), config.hub().retries()));
            catalog.pullMissingWith(new ModelDownloads(puller, () -> catalog.refresh(true), clock));
        }
        this.metrics = new ServerMetrics();
        JobStore jobStore = new JobStore(db);
        ObjectMapper json = new ObjectMapper();
        Duration leaseTtl = Duration.ofSeconds(config.jobs().leaseSeconds());
        TierLimiter limiter = db.shared()
                ? TierLimiter.shared(config.tiers(), usage, clock, new LimitStore(db, clock), node, leaseTtl)
                : new TierLimiter(config.tiers(), usage, clock);
        Authenticator auth = new Authenticator(keys);

        this.clientWatch = new ClientWatch();
        WebhookTargets targets;
        try {
            targets = new WebhookTargets(config.webhooks().allowedNetworks());
        } catch (IllegalArgumentException e) {
            throw new ConfigException(e.getMessage());
        }
        this.webhooks = new WebhookSender(jobStore, targets, config.webhooks().maxAttempts(),
                config.webhooks().initialBackoffMillis(), Duration.ofSeconds(config.webhooks().timeoutSeconds()), clock);
        Duration resultTtl = Duration.ofSeconds(config.images().urlTtlSeconds());
        JobRecords records = new JobRecords(jobStore, webhooks, json, clock, resultTtl,
                this::meanJobSeconds);
        ResultBodies bodies = new ResultBodies(json, files, clock);
        // One queue for every node when the database is shared: a free device claims the next job of any node.
        ClaimedJobs claimed = db.shared() ? new ClaimedJobs(jobStore, keys, catalog, limiter, bodies, records, json, clock) : null;
        SharedQueue shared = claimed != null ? new SharedQueue(jobStore, node, leaseTtl, clock, claimed) : null;
        DeviceWorker device = new DeviceWorker("default", config.queue().capacity(), config.queue().maxBatchImages(),
                new ModelCache(loader, memoryBudgetBytes(config)), catalog::recordLoadFailure,
                JobObservers.of(metrics, new UsageRecorder(usage, clock), new JobRecorder(jobStore, node, clock)), clock,
                shared != null ? shared : new LocalQueue());
        metrics.queueGauge(device.device(), device::waitingCount);
        metrics.loadedModelsGauge(device.device(), () -> device.cache().loadedIds().size());
        loader.preparedModelCache().ifPresent(metrics::preparedModelCache);
        this.scheduler = new JobScheduler(List.of(device));
        this.jobEvents = shared != null ? new JobEvents(db, shared::onEvent).start() : null;
        ImageService images = new ImageService(config, catalog, limiter, scheduler, metrics, json, clock, clientWatch,
                records, bodies, node, db.shared());
        RequestReader reader = new RequestReader(json, config.limits().maxBodyBytes(), config.limits().maxInputImages(), tempDir);
        ImageDecoder decoder = new ImageDecoder(config.limits().maxInputSide(), config.limits().maxInputPixels());
        ImagesGenerationsRoute generations = new ImagesGenerationsRoute(images, reader);
        ImagesEditsRoute edits = new ImagesEditsRoute(images, reader, decoder);
        ModelsRoute models = new ModelsRoute(catalog, scheduler, json, startedAt.getEpochSecond());
        UsageRoute usageRoute = new UsageRoute(usage, limiter, json, clock);
        AdminRoutes admin = new AdminRoutes(keys, usageRoute, json);
        PlaygroundRoute playground = new PlaygroundRoute();
        ImageJobsRoute jobs = new ImageJobsRoute(images, records, keys, reader, generations, edits, json, claimed);
        WebhookRoutes webhookRoutes = new WebhookRoutes(keys, targets, json);

        this.app = Javalin.create(c -> {
            c.jetty.host = config.host();
            c.jetty.port = config.port();
            c.concurrency.useVirtualThreads = true;
            c.http.maxRequestSize = config.limits().maxBodyBytes();
            c.http.compressionStrategy = CompressionStrategy.NONE;
            c.startup.showJavalinBanner = false;
            c.startup.showOldJavalinVersionWarning = false;
            c.jsonMapper(new JavalinJackson(json, true));
            c.requestLogger.http((ctx, ms) -> {
                ApiKey key = ctx.attribute(Routes.KEY_ATTRIBUTE);
                // image links are capabilities: their names stay out of the log
                String path = ctx.path().startsWith("/files/images/") ? "/files/images/..." : ctx.path();
                requestLog.info("{} {} {} {}ms key={}", ctx.method(), path, ctx.statusCode(), Math.round(ms),
                        key == null ? "-" : key.id());
            });

            c.routes.before("/v1/*", ctx -> {
                ctx.header("Content-Type", "application/json");
                if (ctx.method() == HandlerType.OPTIONS) return;
                long length = ctx.req().getContentLengthLong();
                if (length > config.limits().maxBodyBytes()) {
                    throw ApiException.tooLarge("The request body is larger than this server accepts ("
                            + config.limits().maxBodyMb() + " MiB).");
                }
                ApiKey key = switch (auth.authenticate(ctx.header("Authorization"))) {
                    case Authenticator.Result.Ok ok -> ok.key();
                    case Authenticator.Result.Missing m -> throw ApiException.unauthorized("missing_api_key",
                            "You didn't provide an API key. Send it as 'Authorization: Bearer <key>'.");
                    case Authenticator.Result.Revoked r -> throw ApiException.unauthorized("revoked_api_key",
                            "This API key has been revoked.");
                    case Authenticator.Result.Invalid i -> throw ApiException.unauthorized("invalid_api_key",
                            "Incorrect API key provided.");
                };
                ctx.attribute(Routes.KEY_ATTRIBUTE, key);
                if (ctx.method() == HandlerType.POST && ctx.path().startsWith("/v1/images/")) {
                    if (draining) throw ApiException.unavailable("shutting_down", "The server is shutting down.", 30);
                    try {
                        limiter.checkRequest(key);
                    } catch (RuntimeException e) {
                        metrics.rejected("rate_limit_exceeded");
                        throw e;
                    }
                }
            });
            c.routes.post("/v1/images/generations", ctx -> tracked(() -> generations.handle(ctx)));
            c.routes.post("/v1/images/edits", ctx -> tracked(() -> edits.handle(ctx)));
            c.routes.post("/v1/images/jobs", ctx -> tracked(() -> jobs.create(ctx)));
            c.routes.get("/v1/images/jobs", jobs::list);
            c.routes.get("/v1/images/jobs/{id}", jobs::get);
            c.routes.delete("/v1/images/jobs/{id}", jobs::cancel);
            c.routes.get("/v1/webhook", webhookRoutes::get);
            c.routes.put("/v1/webhook", webhookRoutes::put);
            c.routes.post("/v1/webhook/secret", webhookRoutes::newSecret);
            c.routes.get("/v1/models", models::list);
            c.routes.get("/v1/models/{id}", models::get);
            c.routes.get("/v1/usage", usageRoute::own);
            c.routes.post("/v1/admin/keys", admin::create);
            c.routes.get("/v1/admin/keys", admin::list);
            c.routes.delete("/v1/admin/keys/{id}", admin::revoke);
            c.routes.get("/v1/admin/keys/{id}/usage", admin::usage);
            // The web playground: public static files; its data calls use the public API with the user's key.
            c.routes.get("/", playground::index);
            c.routes.get("/playground/{file}", playground::file);
            c.routes.get("/files/images/{name}", ctx -> {
                UrlImageStore.Found found = files.find(ctx.pathParam("name")).orElseThrow(() ->
                        ApiException.notFound(null, "not_found", "This image does not exist or its link has expired."));
                ctx.header("Cache-Control", "private, max-age=" + Math.max(0,
                        Duration.between(clock.instant(), found.expiresAt()).toSeconds()));
                ctx.contentType(found.contentType()).result(found.bytes());
            });
            c.routes.get("/health", ctx -> {
                ObjectNode body = json.createObjectNode();
                body.put("status", draining ? "draining" : "ok");
                body.put("queue_length", scheduler.waitingCount());
                body.put("uptime_seconds", Duration.between(startedAt, clock.instant()).toSeconds());
                var loaded = body.putArray("models_loaded");
                scheduler.devices().forEach(d -> d.cache().loadedIds().forEach(loaded::add));
                ctx.status(draining ? 503 : 200).json(body);
            });
            // For the load balancer: 200 while this node takes work, 503 while it drains.
            c.routes.get("/health/ready", ctx -> {
                ObjectNode body = json.createObjectNode();
                body.put("ready", !draining);
                body.put("node", node);
                body.put("queue_length", scheduler.waitingCount());
                try {
                    body.put("queued_jobs", jobStore.count(JobStore.State.QUEUED));
                    body.put("database", "ok");
                } catch (RuntimeException e) {
                    body.put("ready", false);
                    body.put("database", "unavailable");
                }
                var loaded = body.putArray("models_loaded");
                scheduler.devices().forEach(d -> d.cache().loadedIds().forEach(loaded::add));
                ctx.status(body.path("ready").asBoolean() ? 200 : 503).json(body);
            });
            if (config.metrics().enabled()) {
                c.routes.get("/metrics", ctx -> ctx.contentType("text/plain; version=0.0.4; charset=utf-8").result(metrics.scrape()));
            }
            c.routes.exception(Exception.class, (e, ctx) -> Errors.respond(ctx, json, e));
            c.routes.error(404, ctx -> {
                if (ctx.attribute(Errors.WRITTEN) == null) {
                    Errors.respond(ctx, json, ApiException.notFound(null, "not_found", "Unknown endpoint " + ctx.method() + " " + ctx.path() + "."));
                }
            });
            c.routes.error(405, ctx -> {
                if (ctx.attribute(Errors.WRITTEN) == null) {
                    Errors.respond(ctx, json, new ApiException(405, "invalid_request_error", "method_not_allowed", null,
                            "Method " + ctx.method() + " is not allowed on " + ctx.path() + ".", null, false));
                }
            });
        });

        this.housekeeping = Executors.newSingleThreadScheduledExecutor(Thread.ofPlatform().daemon().name("easel-housekeeping").factory());
        housekeeping.scheduleAtFixedRate(() -> {
            try {
                files.sweep();
            } catch (RuntimeException e) {
                log.warn("cannot delete expired url images: {}", e.getMessage());
            }
        }, 1, 60, TimeUnit.SECONDS);
        housekeeping.scheduleAtFixedRate(() -> {
            try {
                jobStore.expireResults(clock.instant().minus(resultTtl));
            } catch (RuntimeException e) {
                log.warn("cannot expire job results: {}", e.getMessage());
            }
        }, 1, 60, TimeUnit.SECONDS);
        long renewMillis = Math.max(200, leaseTtl.toMillis() / 3);
        housekeeping.scheduleAtFixedRate(() -> {
            try {
                limiter.renewLeases();
            } catch (RuntimeException e) {
                log.warn("cannot renew this node's limit leases: {}", e.getMessage());
            }
        }, renewMillis, renewMillis, TimeUnit.MILLISECONDS);
    }

    /** Starts the server on {@code config}'s host and port (0 = a free port). */
    public static EaselServer start(ServerConfig config, PipelineLoader loader) {
        return start(config, loader, Clock.systemUTC());
    }

    public static EaselServer start(ServerConfig config, PipelineLoader loader, Clock clock) {
        EaselServer server = new EaselServer(config, loader, clock);
        server.app.start();
        log.info("Easel is listening on http://{}:{}", config.host(), server.port());
        return server;
    }

    public int port() {
        return app.port();
    }

    /** The admin key made on the first start (no keys in the database yet); shown once, never stored. */
    public Optional<String> initialAdminSecret() {
        return initialAdminSecret;
    }

    public ServerMetrics metrics() {
        return metrics;
    }

    public ApiKeyStore keys() {
        return keys;
    }

    private void tracked(ThrowingRunnable body) throws Exception {
        inFlight.incrementAndGet();
        try {
            body.run();
        } finally {
            inFlight.decrementAndGet();
        }
    }

    @FunctionalInterface
    private interface ThrowingRunnable {
        void run() throws Exception;
    }

    /**
     * Graceful stop: refuse new image requests (503), let every queued and running job finish and its
     * client get the answer, then close. Jobs still running after {@code timeout} are cancelled.
     *
     * @return true when nothing had to be cancelled
     */
    public synchronized boolean shutdown(Duration timeout) {
        if (stopped) return true;
        stopped = true;
        draining = true;
        log.info("shutting down: finishing {} queued job(s)", scheduler.waitingCount());
        long deadline = System.nanoTime() + timeout.toNanos();
        boolean clean = scheduler.drain(timeout);
        // let request threads encode and send the last images
        while (inFlight.get() > 0 && System.nanoTime() < deadline + TimeUnit.SECONDS.toNanos(30)) {
            try {
                Thread.sleep(20);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        }
        clean &= inFlight.get() == 0;
        scheduler.close();
        if (jobEvents != null) jobEvents.close();
        app.stop();
        clientWatch.close();
        housekeeping.shutdownNow();
        webhooks.close();
        metrics.close();
        db.close();
        log.info("stopped{}", clean ? "" : " (some requests were cancelled)");
        return clean;
    }

    @Override
    public void close() {
        shutdown(Duration.ofSeconds(config.queue().shutdownTimeoutSeconds()));
    }

    /** This node's name in job records: {@code jobs.node}, else host name and process id. */
    static String nodeName(ServerConfig config) {
        String configured = config.jobs() == null ? null : config.jobs().node();
        if (configured != null && !configured.isBlank()) return configured.strip();
        String host;
        try {
            host = java.net.InetAddress.getLocalHost().getHostName();
        } catch (java.io.IOException e) {
            host = "localhost";
        }
        return host + "-" + ProcessHandle.current().pid();
    }

    public String node() {
        return node;
    }

    private double meanJobSeconds() {
        return scheduler.devices().getFirst().meanJobSeconds();
    }

    /** The model memory budget: the configured MiB, or 60% of physical memory. */
    static long memoryBudgetBytes(ServerConfig config) {
        if (config.modelMemoryBudgetMb() > 0) return config.modelMemoryBudgetMb() << 20;
        if (ManagementFactory.getOperatingSystemMXBean() instanceof com.sun.management.OperatingSystemMXBean os) {
            return (long) (os.getTotalMemorySize() * 0.6);
        }
        return 8L << 30;
    }
}
