package dev.easel.server.api;

import com.fasterxml.jackson.databind.JsonNode;
import dev.easel.server.auth.Tier;
import dev.easel.server.catalog.DiffusionPipelineLoader;
import dev.easel.server.support.Fixtures;
import dev.easel.server.support.Http;
import dev.easel.server.support.TestServer;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.lang.management.ManagementFactory;
import java.lang.management.MemoryMXBean;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The load test of the benchmark suite (tag "load", not in the default run):
 * <pre>
 *   mvn -pl easel-server -am test -Dtest=LoadTest -Deasel.test.excludedGroups= -Dsurefire.failIfNoSpecifiedTests=false
 *       [-Deasel.load.clients=50] [-Deasel.load.seconds=60]
 * </pre>
 * 50 clients (keys of every tier) call {@code /v1/images/generations} on the SD 1.5 fixture model, as fast as
 * the server lets them, honoring Retry-After. Every request must be answered with an image or a proper
 * 429/503 (none lost, no connection errors), the server's heap after GC must stay flat, and the figures
 * are printed (requests/s, images/s, p50/p99 latency, rejects) and written to target/load-test.txt.
 */
@Tag("load")
class LoadTest {

    @Test
    void fiftyClientsAreAllAnsweredAndMemoryStaysFlat() throws Exception {
        int clients = Integer.getInteger("easel.load.clients", 50);
        int seconds = Integer.getInteger("easel.load.seconds", 60);
        try (TestServer server = TestServer.builder()
                .model("stable-diffusion-1.5", Fixtures.sd15Model())
                .loader(new DiffusionPipelineLoader())
                .set("queue.capacity", "16")
                .set("tiers.free.requests-per-minute", "20").set("tiers.free.concurrent-jobs", "1")
                .set("tiers.pro.requests-per-minute", "60").set("tiers.pro.concurrent-jobs", "2")
                .set("tiers.premium.requests-per-minute", "600").set("tiers.premium.concurrent-jobs", "4")
                .set("tiers.free.images-per-day", "100000").set("tiers.pro.images-per-day", "100000")
                .set("tiers.premium.images-per-day", "100000")
                .start()) {
            List<String> keys = new ArrayList<>();
            Tier[] tiers = Tier.values();
            for (int i = 0; i < clients; i++) {
                keys.add(server.server.keys().create("load " + i, tiers[i % tiers.length], false).secret());
            }
            HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
                    .executor(Executors.newVirtualThreadPerTaskExecutor()).connectTimeout(Duration.ofSeconds(10)).build();
            URI uri = URI.create(server.baseUrl() + "/v1/images/generations");

            // warm up: load the model, JIT the paths
            for (int i = 0; i < 3; i++) assertThat(send(http, uri, keys.get(2), i).statusCode()).isEqualTo(200);
            MemorySampler memory = new MemorySampler();
            memory.sample("start");

            Map<Integer, AtomicInteger> byStatus = new TreeMap<>();
            Map<String, AtomicInteger> rejectCodes = new ConcurrentHashMap<>();
            List<Long> okLatencies = Collections.synchronizedList(new ArrayList<>());
            List<Long> allLatencies = Collections.synchronizedList(new ArrayList<>());
            List<String> problems = new CopyOnWriteArrayList<>();
            AtomicLong images = new AtomicLong();
            long start = System.nanoTime();
            long end = start + TimeUnit.SECONDS.toNanos(seconds);
            ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor();
            List<Future<?>> running = new ArrayList<>();
            for (int c = 0; c < clients; c++) {
                String key = keys.get(c);
                running.add(pool.submit(() -> {
                    int n = 0;
                    while (System.nanoTime() < end) {
                        long t0 = System.nanoTime();
                        HttpResponse<byte[]> r;
                        try {
                            r = send(http, uri, key, n++);
                        } catch (Exception e) {
                            problems.add("lost request: " + e);
                            continue;
                        }
                        long ms = (System.nanoTime() - t0) / 1_000_000;
                        allLatencies.add(ms);
                        synchronized (byStatus) {
                            byStatus.computeIfAbsent(r.statusCode(), k -> new AtomicInteger()).incrementAndGet();
                        }
                        JsonNode body = Http.JSON.readTree(r.body());
                        switch (r.statusCode()) {
                            case 200 -> {
                                okLatencies.add(ms);
                                byte[] png = Base64.getDecoder().decode(body.path("data").get(0).path("b64_json").asText());
                                if (png.length < 8 || png[1] != 'P') problems.add("200 without a PNG");
                                images.incrementAndGet();
                            }
                            case 429, 503 -> {
                                String code = body.path("error").path("code").asText("");
                                rejectCodes.computeIfAbsent(r.statusCode() + " " + code, k -> new AtomicInteger()).incrementAndGet();
                                String retry = r.headers().firstValue("retry-after").orElse(null);
                                if (retry == null || code.isEmpty()) problems.add(r.statusCode() + " without Retry-After or error code");
                                long wait = retry == null ? 1000 : Math.min(5000, Long.parseLong(retry) * 1000L);
                                Thread.sleep(wait / 2 + ThreadLocalRandom.current().nextLong(wait / 2 + 1));
                            }
                            default -> problems.add("unexpected " + r.statusCode() + ": " + new String(r.body()));
                        }
                    }
                    return null;
                }));
                if (c % 10 == 9) memory.sample("ramp " + (c + 1));
            }
            ScheduledSampling sampling = new ScheduledSampling(memory, seconds);
            for (Future<?> f : running) f.get(seconds + 600L, TimeUnit.SECONDS);
            double elapsed = (System.nanoTime() - start) / 1e9;
            sampling.stop();
            memory.sample("end");
            pool.shutdown();

            int answered = byStatus.values().stream().mapToInt(AtomicInteger::get).sum();
            String metrics = server.server.metrics().scrape();
            long serverSucceeded = sum(metrics, "easel_jobs_total{model=\"stable-diffusion-1.5\",outcome=\"succeeded\"}");
            Collections.sort(okLatencies);
            Collections.sort(allLatencies);
            String report = String.format(Locale.ROOT, """
                    Easel load test: %d clients, %d s, SD 1.5 fixture model at 64x64, 4 steps, queue capacity 16
                      requests answered   %d (%.1f/s)
                      images              %d (%.2f/s)
                      by status           %s
                      rejects             %s
                      latency of 200s     p50 %d ms, p99 %d ms, max %d ms
                      latency of all      p50 %d ms, p99 %d ms
                      lost / bad answers  %d %s
                      server jobs ok      %d (client 200s %d; warm-up 3)
                      memory              %s
                    """, clients, seconds, answered, answered / elapsed, images.get(), images.get() / elapsed, byStatus,
                    new TreeMap<>(rejectCodes), pct(okLatencies, 50), pct(okLatencies, 99),
                    okLatencies.isEmpty() ? 0 : okLatencies.getLast(), pct(allLatencies, 50), pct(allLatencies, 99),
                    problems.size(), problems.stream().limit(5).toList(), serverSucceeded, images.get(), memory.describe());
            System.out.println(report);
            Files.writeString(Path.of("target/load-test.txt"), report);

            assertThat(problems).isEmpty();
            assertThat(images.get()).isPositive();
            assertThat(serverSucceeded).as("every image the server made reached its client").isEqualTo(images.get() + 3);
            assertThat(memory.heapGrowthMb()).as("heap after GC, end minus start (MiB)").isLessThan(64);
            assertThat(memory.lastRss()).as("RSS at the end vs once loaded (MiB)").isLessThan(memory.firstLoadedRss() * 3 / 2);
        }
    }

    private static HttpResponse<byte[]> send(HttpClient http, URI uri, String key, int n) throws Exception {
        String body = "{\"model\":\"stable-diffusion-1.5\",\"prompt\":\"load test image " + n + "\",\"size\":\"64x64\"}";
        return http.send(HttpRequest.newBuilder(uri).header("Authorization", "Bearer " + key)
                        .header("Content-Type", "application/json").timeout(Duration.ofMinutes(10))
                        .POST(HttpRequest.BodyPublishers.ofString(body)).build(),
                HttpResponse.BodyHandlers.ofByteArray());
    }

    private static long pct(List<Long> sorted, int p) {
        if (sorted.isEmpty()) return 0;
        return sorted.get(Math.min(sorted.size() - 1, (int) Math.ceil(p / 100.0 * sorted.size()) - 1));
    }

    private static long sum(String metrics, String series) {
        return metrics.lines().filter(l -> l.startsWith(series))
                .mapToLong(l -> (long) Double.parseDouble(l.substring(l.lastIndexOf(' ') + 1))).sum();
    }

    /** Heap after a full GC, and the process RSS (weights and ONNX Runtime live outside the heap). */
    static final class MemorySampler {
        private final MemoryMXBean bean = ManagementFactory.getMemoryMXBean();
        private final List<String> samples = new CopyOnWriteArrayList<>();
        private volatile long firstHeap = -1;
        private volatile long lastHeap;
        private final List<Long> rss = new CopyOnWriteArrayList<>();

        synchronized void sample(String label) {
            System.gc();
            long heap = bean.getHeapMemoryUsage().getUsed();
            if (firstHeap < 0) firstHeap = heap;
            lastHeap = heap;
            long resident = rssMb();
            rss.add(resident);
            samples.add(String.format(Locale.ROOT, "%s heap %d MiB rss %d MiB", label, heap >> 20, resident));
        }

        /** RSS of the first sample taken under load (model loaded, pools warm). */
        long firstLoadedRss() {
            return rss.size() > 6 ? rss.get(6) : rss.getFirst();
        }

        long lastRss() {
            return rss.getLast();
        }

        long heapGrowthMb() {
            return (lastHeap - firstHeap) >> 20;
        }

        String describe() {
            return String.join("; ", samples);
        }

        private static long rssMb() {
            try {
                for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                    if (line.startsWith("VmRSS:")) return Long.parseLong(line.replaceAll("\\D", "")) >> 10;
                }
            } catch (Exception ignored) {
                // not Linux
            }
            return -1;
        }
    }

    /** Samples memory a few times while the load runs. */
    static final class ScheduledSampling {
        private final java.util.concurrent.ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor();

        ScheduledSampling(MemorySampler memory, int seconds) {
            long every = Math.max(5, seconds / 4);
            AtomicInteger i = new AtomicInteger();
            timer.scheduleAtFixedRate(() -> memory.sample("t+" + (i.incrementAndGet() * every) + "s"), every, every, TimeUnit.SECONDS);
        }

        void stop() {
            timer.shutdownNow();
        }
    }
}
