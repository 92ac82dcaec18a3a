package dev.easel.server.api;

import com.fasterxml.jackson.databind.JsonNode;
import dev.easel.server.auth.Tier;
import dev.easel.server.support.FakePipeline;
import dev.easel.server.support.Http;
import dev.easel.server.support.TestDatabases;
import dev.easel.server.support.TestServer;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
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
 * The several-nodes load test (tag "load", not in the default run):
 * <pre>
 *   mvn -pl easel-server -am test -Dtest=MultiNodeLoadTest -Deasel.test.excludedGroups= -Dsurefire.failIfNoSpecifiedTests=false
 *       [-Deasel.load.clients=50] [-Deasel.load.seconds=60] [-Deasel.load.step-millis=25]
 * </pre>
 * Three nodes on one embedded PostgreSQL, each with a fake pipeline whose steps take {@code step-millis} (4 steps a
 * job: the device time of a small model, without three real models on one machine). 50 clients, keys of every tier,
 * each on a node of its own: half call {@code /v1/images/generations} and wait, half submit {@code /v1/images/jobs}
 * and poll (on any node) until the job ended. Every request must be answered (an image, or a 429/503 with
 * Retry-After), every accepted async job must end succeeded, and the nodes together must have run exactly as many
 * jobs as the clients got images: none lost, none run or answered twice. Figures go to target/multi-node-load-test.txt.
 */
@Tag("load")
class MultiNodeLoadTest {

    @Test
    void fiftyClientsOnThreeNodesHalfSyncHalfAsyncAreEachAnsweredOnce() throws Exception {
        int clients = Integer.getInteger("easel.load.clients", 50);
        int seconds = Integer.getInteger("easel.load.seconds", 60);
        long stepMillis = Long.getLong("easel.load.step-millis", 25);
        String url = TestDatabases.newPostgresUrl();
        List<TestServer> nodes = new ArrayList<>();
        try {
            for (String name : List.of("node-a", "node-b", "node-c")) {
                nodes.add(TestServer.builder().fakeModel("stable-diffusion-1.5")
                        .loader(p -> new FakePipeline(stepMillis, 1 << 20))
                        .set("database.url", url).set("jobs.node", name).set("queue.capacity", "16")
                        .set("tiers.free.requests-per-minute", "120").set("tiers.free.concurrent-jobs", "1")
                        .set("tiers.pro.requests-per-minute", "600").set("tiers.pro.concurrent-jobs", "2")
                        .set("tiers.premium.requests-per-minute", "1200").set("tiers.premium.concurrent-jobs", "4")
                        .set("tiers.free.images-per-day", "100000").set("tiers.pro.images-per-day", "100000")
                        .set("tiers.premium.images-per-day", "100000").start());
            }
            List<String> keys = new ArrayList<>();
            for (int i = 0; i < clients; i++) keys.add(nodes.getFirst().server.keys().create("load " + i, Tier.values()[i % 3], false).secret());
            HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
                    .executor(Executors.newVirtualThreadPerTaskExecutor()).connectTimeout(Duration.ofSeconds(10)).build();

            Map<String, AtomicInteger> byOutcome = new TreeMap<>();
            Map<String, AtomicInteger> rejects = new ConcurrentHashMap<>();
            List<Long> syncLatencies = Collections.synchronizedList(new ArrayList<>());
            List<Long> asyncLatencies = Collections.synchronizedList(new ArrayList<>());
            List<String> problems = new CopyOnWriteArrayList<>();
            Set<String> asyncIds = ConcurrentHashMap.newKeySet();
            AtomicLong images = new AtomicLong();
            long start = System.nanoTime();
            long end = start + TimeUnit.SECONDS.toNanos(seconds);
            ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor();
            List<Future<?>> running = new ArrayList<>();
            for (int c = 0; c < clients; c++) {
                String key = keys.get(c);
                String base = nodes.get(c % 3).baseUrl();
                boolean async = c % 2 == 1;
                running.add(pool.submit(() -> {
                    int n = 0;
                    while (System.nanoTime() < end) {
                        long t0 = System.nanoTime();
                        String body = "{\"prompt\":\"load " + n++ + "\",\"size\":\"64x64\"}";
                        HttpResponse<byte[]> r;
                        try {
                            r = http.send(post(base + (async ? "/v1/images/jobs" : "/v1/images/generations"), key, body),
                                    HttpResponse.BodyHandlers.ofByteArray());
                        } catch (Exception e) {
                            problems.add("lost request: " + e);
                            continue;
                        }
                        JsonNode json = Http.JSON.readTree(r.body());
                        int status = r.statusCode();
                        count(byOutcome, (async ? "async " : "sync ") + status);
                        if (status == 429 || status == 503) {
                            String code = json.path("error").path("code").asText("");
                            rejects.computeIfAbsent(status + " " + code, k -> new AtomicInteger()).incrementAndGet();
                            String retry = r.headers().firstValue("retry-after").orElse(null);
                            if (retry == null || code.isEmpty()) problems.add(status + " without Retry-After or error code");
                            long wait = retry == null ? 1000 : Math.min(5000, Long.parseLong(retry) * 1000L);
                            Thread.sleep(wait / 2 + ThreadLocalRandom.current().nextLong(wait / 2 + 1));
                        } else if (!async && status == 200) {
                            if (json.path("data").size() != 1) problems.add("200 without one image");
                            images.incrementAndGet();
                            syncLatencies.add((System.nanoTime() - t0) / 1_000_000);
                        } else if (async && status == 202) {
                            String id = json.path("id").asText();
                            if (!asyncIds.add(id)) problems.add("job id given twice: " + id);
                            JsonNode done = poll(http, nodes, key, id);
                            if (done == null) {
                                problems.add("async job never ended: " + id);
                            } else if (!done.path("status").asText().equals("succeeded")) {
                                problems.add("async job " + id + " " + done.path("status").asText() + ": " + done.path("error"));
                            } else {
                                count(byOutcome, "async succeeded");
                                images.addAndGet(done.path("result").path("data").size());
                                asyncLatencies.add((System.nanoTime() - t0) / 1_000_000);
                            }
                        } else {
                            problems.add("unexpected " + status + ": " + new String(r.body()));
                        }
                    }
                    return null;
                }));
            }
            for (Future<?> f : running) f.get(seconds + 600L, TimeUnit.SECONDS);
            double elapsed = (System.nanoTime() - start) / 1e9;
            pool.shutdown();

            long serverSucceeded = 0;
            Map<String, Long> perNode = new TreeMap<>();
            for (TestServer s : nodes) {
                long n = sum(s.server.metrics().scrape(), "easel_jobs_total{model=\"stable-diffusion-1.5\",outcome=\"succeeded\"}");
                perNode.put(s.server.node(), n);
                serverSucceeded += n;
            }
            Map<String, Long> states = new TreeMap<>();
            long maxAttempt;
            try (Connection c = DriverManager.getConnection(url); Statement st = c.createStatement()) {
                try (ResultSet rs = st.executeQuery("SELECT mode || ' ' || state, COUNT(*) FROM jobs GROUP BY 1")) {
                    while (rs.next()) states.put(rs.getString(1), rs.getLong(2));
                }
                try (ResultSet rs = st.executeQuery("SELECT COALESCE(MAX(attempt), 0) FROM jobs")) {
                    rs.next();
                    maxAttempt = rs.getLong(1);
                }
            }
            Collections.sort(syncLatencies);
            Collections.sort(asyncLatencies);
            long answered = byOutcome.entrySet().stream().filter(e -> !e.getKey().endsWith("succeeded"))
                    .mapToLong(e -> e.getValue().get()).sum();
            String report = String.format(Locale.ROOT, """
                    Easel multi-node load test: %d clients (half sync, half async) on 3 nodes sharing one PostgreSQL, %d s,
                    fake pipeline %d ms a step x 4 steps, 64x64, queue capacity 16 per node
                      requests answered   %d (%.1f/s)
                      images              %d (%.2f/s)
                      by outcome          %s
                      rejects             %s
                      sync latency        p50 %d ms, p99 %d ms (%d calls)
                      async submit->done  p50 %d ms, p99 %d ms (%d jobs)
                      jobs run per node   %s (sum %d)
                      job records         %s, highest attempt %d
                      lost / bad answers  %d %s
                    """, clients, seconds, stepMillis, answered, answered / elapsed, images.get(), images.get() / elapsed,
                    byOutcome, new TreeMap<>(rejects), pct(syncLatencies, 50), pct(syncLatencies, 99), syncLatencies.size(),
                    pct(asyncLatencies, 50), pct(asyncLatencies, 99), asyncLatencies.size(), perNode, serverSucceeded,
                    states, maxAttempt, problems.size(), problems.stream().limit(5).toList());
            System.out.println(report);
            Files.createDirectories(Path.of("target"));
            Files.writeString(Path.of("target/multi-node-load-test.txt"), report);

            assertThat(problems).isEmpty();
            assertThat(images.get()).isPositive();
            assertThat(serverSucceeded).as("every job the nodes ran reached its client once").isEqualTo(images.get());
            assertThat(states.keySet()).as("nothing left queued or running").allMatch(s -> s.endsWith("succeeded") || s.endsWith("failed"));
            assertThat(perNode.values()).as("every node ran jobs").allMatch(n -> n > 0);
        } finally {
            for (TestServer s : nodes) s.close();
        }
    }

    private static void count(Map<String, AtomicInteger> m, String k) {
        synchronized (m) {
            m.computeIfAbsent(k, x -> new AtomicInteger()).incrementAndGet();
        }
    }

    private static HttpRequest post(String uri, String key, String body) {
        return HttpRequest.newBuilder(URI.create(uri)).header("Authorization", "Bearer " + key)
                .header("Content-Type", "application/json").timeout(Duration.ofMinutes(10))
                .POST(HttpRequest.BodyPublishers.ofString(body)).build();
    }

    /** Polls a job on random nodes until it ended (null after two minutes). */
    private static JsonNode poll(HttpClient http, List<TestServer> nodes, String key, String id) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(2);
        while (System.nanoTime() < deadline) {
            Thread.sleep(50);
            String base = nodes.get(ThreadLocalRandom.current().nextInt(nodes.size())).baseUrl();
            HttpResponse<byte[]> r = http.send(HttpRequest.newBuilder(URI.create(base + "/v1/images/jobs/" + id))
                    .header("Authorization", "Bearer " + key).GET().build(), HttpResponse.BodyHandlers.ofByteArray());
            JsonNode job = Http.JSON.readTree(r.body());
            String status = job.path("status").asText();
            if (status.equals("succeeded") || status.equals("failed") || status.equals("cancelled")) return job;
        }
        return null;
    }

    private static long pct(List<Long> sorted, int p) {
        if (sorted.isEmpty()) return 0;
        return sorted.get(Math.min(sorted.size() - 1, (int) Math.ceil(p / 100.0 * sorted.size()) - 1));
    }

    private static long sum(String metrics, String series) {
        return metrics.lines().filter(l -> l.startsWith(series))
                .mapToLong(l -> (long) Double.parseDouble(l.substring(l.lastIndexOf(' ') + 1))).sum();
    }
}
