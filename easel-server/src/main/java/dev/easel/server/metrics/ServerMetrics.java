package dev.easel.server.metrics;

import dev.easel.engine.runtime.PreparedModelCache;
import dev.easel.server.catalog.ModelEntry;
import dev.easel.server.jobs.Job;
import dev.easel.server.jobs.JobObserver;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.binder.jvm.JvmGcMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics;
import io.micrometer.core.instrument.binder.system.ProcessorMetrics;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;

import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

/**
 * Prometheus metrics: {@code easel_queue_length}, {@code easel_jobs_total{model,outcome}},
 * {@code easel_step_seconds{model}}, {@code easel_images_generated_total{model}}, job durations,
 * rejected requests, batches ({@code easel_batches_total{model}}: pipeline calls; {@code easel_batch_jobs} and
 * {@code easel_batch_images}: jobs and images per call, above 1 job when requests were merged), plus the
 * JVM's memory, GC and threads.
 */
public final class ServerMetrics implements JobObserver, AutoCloseable {
    private final PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    private final JvmGcMetrics gc = new JvmGcMetrics();

    public ServerMetrics() {
        new JvmMemoryMetrics().bindTo(registry);
        new JvmThreadMetrics().bindTo(registry);
        new ProcessorMetrics().bindTo(registry);
        gc.bindTo(registry);
    }

    public PrometheusMeterRegistry registry() {
        return registry;
    }

    /** Exposes the waiting jobs of a device as {@code easel_queue_length{device}}. */
    public void queueGauge(String device, Supplier<Number> waiting) {
        Gauge.builder("easel.queue.length", waiting).tag("device", device)
                .description("Jobs waiting for the device").register(registry);
    }

    public void loadedModelsGauge(String device, Supplier<Number> count) {
        Gauge.builder("easel.models.loaded", count).tag("device", device)
                .description("Models loaded on the device").register(registry);
    }

    /**
     * Exposes the prepared-model cache: {@code easel_prepared_model_cache_bytes} and {@code _entries} (what it holds,
     * read at each scrape, so entries written by other processes count), {@code _hits_total}, {@code _misses_total}
     * and {@code _rebuilt_total} (damaged entries found and rebuilt) of this server's loads.
     */
    public void preparedModelCache(PreparedModelCache cache) {
        Gauge.builder("easel.prepared.model.cache.bytes", () -> cache.stats().bytes())
                .description("Bytes held by the prepared-model cache").register(registry);
        Gauge.builder("easel.prepared.model.cache.entries", () -> cache.stats().entries())
                .description("Prepared models in the cache").register(registry);
        FunctionCounter.builder("easel.prepared.model.cache.hits", cache, c -> c.stats().hits())
                .description("Model components loaded from the prepared-model cache").register(registry);
        FunctionCounter.builder("easel.prepared.model.cache.misses", cache, c -> c.stats().misses())
                .description("Model components prepared because the cache did not hold them").register(registry);
        FunctionCounter.builder("easel.prepared.model.cache.rebuilt", cache, c -> c.stats().rebuilt())
                .description("Damaged or unreadable cache entries found and rebuilt").register(registry);
    }

    @Override
    public void step(Job job, double seconds) {
        Timer.builder("easel.step").tag("model", job.model().id()).description("Seconds per denoising step")
                .register(registry).record(Duration.ofNanos((long) (seconds * 1e9)));
    }

    @Override
    public void batch(ModelEntry model, int jobs, int images) {
        Counter.builder("easel.batches").tag("model", model.id()).description("Pipeline calls (batches) by model")
                .register(registry).increment();
        DistributionSummary.builder("easel.batch.jobs").tag("model", model.id()).description("Jobs per batch")
                .register(registry).record(jobs);
        DistributionSummary.builder("easel.batch.images").tag("model", model.id()).description("Images per batch")
                .register(registry).record(images);
    }

    @Override
    public void finished(Job job, String outcome, int images, long computeMillis) {
        Counter.builder("easel.jobs").tag("model", job.model().id()).tag("outcome", outcome)
                .description("Jobs by model and outcome").register(registry).increment();
        if (images > 0) {
            Counter.builder("easel.images.generated").tag("model", job.model().id())
                    .description("Images generated").register(registry).increment(images);
        }
        if (computeMillis > 0) {
            Timer.builder("easel.job").tag("model", job.model().id()).description("Device time per job")
                    .register(registry).record(computeMillis, TimeUnit.MILLISECONDS);
        }
    }

    /** A request refused before it became a job: {@code reason} is the error code (429s, 503s). */
    public void rejected(String reason) {
        Counter.builder("easel.requests.rejected").tag("reason", reason)
                .description("Requests refused by limits or a full queue").register(registry).increment();
    }

    public String scrape() {
        return registry.scrape();
    }

    @Override
    public void close() {
        gc.close();
        registry.close();
    }
}
