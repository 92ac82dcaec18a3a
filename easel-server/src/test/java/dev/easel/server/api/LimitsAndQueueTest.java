package dev.easel.server.api;

import com.fasterxml.jackson.databind.JsonNode;
import dev.easel.server.support.FakePipeline;
import dev.easel.server.support.Http;
import dev.easel.server.support.TestServer;
import org.junit.jupiter.api.Test;

import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/** Per-tier limits answer 429 with Retry-After; a full queue answers 503 at once; disconnects cancel. */
class LimitsAndQueueTest {

    @Test
    void requestsPerMinuteAbove429WithRetryAfter() {
        try (TestServer s = TestServer.builder().fakeModel("stable-diffusion-1.5")
                .set("tiers.free.requests-per-minute", "2").start()) {
            Http http = new Http(s.baseUrl());
            assertThat(http.postJson("/v1/images/generations", s.free, Map.of("prompt", "a")).status()).isEqualTo(200);
            assertThat(http.postJson("/v1/images/generations", s.free, Map.of("prompt", "b")).status()).isEqualTo(200);
            Http.Response r = http.postJson("/v1/images/generations", s.free, Map.of("prompt", "c"));
            assertThat(r.status()).isEqualTo(429);
            assertThat(Long.parseLong(r.header("retry-after"))).isBetween(1L, 60L);
            assertThat(r.json().path("error").path("code").asText()).isEqualTo("rate_limit_exceeded");
            // another key is not affected
            assertThat(http.postJson("/v1/images/generations", s.pro, Map.of("prompt", "d")).status()).isEqualTo(200);
            assertThat(http.get("/metrics", null).text()).contains("easel_requests_rejected_total{reason=\"rate_limit_exceeded\"}");
        }
    }

    @Test
    void imagesPerDayAbove429UntilMidnight() {
        try (TestServer s = TestServer.builder().fakeModel("stable-diffusion-1.5")
                .set("tiers.free.images-per-day", "3").start()) {
            Http http = new Http(s.baseUrl());
            assertThat(http.postJson("/v1/images/generations", s.free, Map.of("prompt", "a", "n", 2)).status()).isEqualTo(200);
            Http.Response r = http.postJson("/v1/images/generations", s.free, Map.of("prompt", "b", "n", 2));
            assertThat(r.status()).isEqualTo(429);
            assertThat(r.json().path("error").path("code").asText()).isEqualTo("daily_image_limit_exceeded");
            assertThat(Long.parseLong(r.header("retry-after"))).isBetween(1L, 86_401L);
            assertThat(http.postJson("/v1/images/generations", s.free, Map.of("prompt", "c", "n", 1)).status()).isEqualTo(200);
            JsonNode usage = http.get("/v1/usage", s.free).json();
            assertThat(usage.path("today").path("images").asLong()).isEqualTo(3);
            assertThat(usage.path("today").path("pixels").asLong()).isEqualTo(3 * 64 * 64);
            assertThat(usage.path("limits").path("images_per_day").asInt()).isEqualTo(3);
        }
    }

    @Test
    void concurrentJobsAboveTheTierAre429() throws Exception {
        FakePipeline slow = new FakePipeline(150, 1);
        try (TestServer s = TestServer.builder().fakeModel("stable-diffusion-1.5").loader(p -> slow)
                .set("tiers.free.concurrent-jobs", "1").start()) {
            Http http = new Http(s.baseUrl());
            CompletableFuture<Http.Response> first = CompletableFuture.supplyAsync(() ->
                    http.postJson("/v1/images/generations", s.free, Map.of("prompt", "a")));
            waitUntil(() -> slow.stepsRun.get() > 0);
            Http.Response second = http.postJson("/v1/images/generations", s.free, Map.of("prompt", "b"));
            assertThat(second.status()).isEqualTo(429);
            assertThat(second.json().path("error").path("code").asText()).isEqualTo("concurrency_limit_exceeded");
            assertThat(second.header("retry-after")).isNotNull();
            assertThat(first.get(20, TimeUnit.SECONDS).status()).isEqualTo(200);
        }
    }

    @Test
    void aFullQueueAnswers503AtOnce() throws Exception {
        FakePipeline slow = new FakePipeline(100, 1);
        try (TestServer s = TestServer.builder().fakeModel("stable-diffusion-1.5").loader(p -> slow)
                .set("queue.capacity", "1").start()) {
            Http http = new Http(s.baseUrl());
            ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor();
            List<Future<Http.Response>> running = new ArrayList<>();
            running.add(pool.submit(() -> http.postJson("/v1/images/generations", s.free, Map.of("prompt", "1"))));
            waitUntil(() -> slow.stepsRun.get() > 0); // one running
            running.add(pool.submit(() -> http.postJson("/v1/images/generations", s.pro, Map.of("prompt", "2"))));
            waitUntil(() -> s.server.metrics().scrape().contains("easel_queue_length{device=\"default\"} 1.0"));
            long t0 = System.nanoTime();
            Http.Response rejected = http.postJson("/v1/images/generations", s.premium, Map.of("prompt", "3"));
            long ms = (System.nanoTime() - t0) / 1_000_000;
            assertThat(rejected.status()).isEqualTo(503);
            assertThat(ms).as("answered at once").isLessThan(1000);
            assertThat(rejected.header("retry-after")).isNotNull();
            assertThat(rejected.json().path("error").path("code").asText()).isEqualTo("server_busy");
            for (Future<Http.Response> f : running) assertThat(f.get(30, TimeUnit.SECONDS).status()).isEqualTo(200);
            pool.shutdown();
        }
    }

    @Test
    void aClientThatDisconnectsCancelsItsJobAtTheNextStep() throws Exception {
        FakePipeline slow = new FakePipeline(100, 1);
        try (TestServer s = TestServer.builder().fakeModel("stable-diffusion-1.5").loader(p -> slow)
                .set("catalog.stable-diffusion-1.5.steps", "100").start()) {
            byte[] body = "{\"prompt\":\"a long one\"}".getBytes(StandardCharsets.UTF_8);
            try (Socket socket = new Socket("127.0.0.1", s.server.port())) {
                String head = "POST /v1/images/generations HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + s.free
                        + "\r\nContent-Type: application/json\r\nContent-Length: " + body.length + "\r\n\r\n";
                socket.getOutputStream().write(head.getBytes(StandardCharsets.UTF_8));
                socket.getOutputStream().write(body);
                socket.getOutputStream().flush();
                waitUntil(() -> slow.stepsRun.get() >= 2);
            }
            waitUntil(() -> s.server.metrics().scrape().contains("outcome=\"cancelled\""));
            int stepsAtCancel = slow.stepsRun.get();
            assertThat(stepsAtCancel).isLessThan(30);
            Thread.sleep(300);
            assertThat(slow.stepsRun.get()).isEqualTo(stepsAtCancel);
        }
    }

    @Test
    void premiumJobsOvertakeFreeOnesInTheQueue() throws Exception {
        FakePipeline slow = new FakePipeline(60, 1);
        try (TestServer s = TestServer.builder().fakeModel("stable-diffusion-1.5").loader(p -> slow).start()) {
            Http http = new Http(s.baseUrl());
            ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor();
            Future<Http.Response> blocker = pool.submit(() -> http.postJson("/v1/images/generations", s.free, Map.of("prompt", "first")));
            waitUntil(() -> slow.stepsRun.get() > 0);
            Future<Http.Response> free = pool.submit(() -> http.postJson("/v1/images/generations", s.free, Map.of("prompt", "free")));
            waitUntil(() -> s.server.metrics().scrape().contains("easel_queue_length{device=\"default\"} 1.0"));
            Future<Http.Response> premium = pool.submit(() -> http.postJson("/v1/images/generations", s.premium, Map.of("prompt", "premium")));
            for (Future<Http.Response> f : List.of(blocker, free, premium)) assertThat(f.get(30, TimeUnit.SECONDS).status()).isEqualTo(200);
            List<String> order = slow.requests.stream().map(r -> r.prompt()).toList();
            assertThat(order).containsExactly("first", "premium", "free");
            pool.shutdown();
        }
    }

    static void waitUntil(java.util.function.BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) throw new AssertionError("condition not met in 10 s");
            Thread.sleep(5);
        }
    }
}
