package dev.easel.server.api;

import dev.easel.server.support.FakePipeline;
import dev.easel.server.support.Http;
import dev.easel.server.support.TestServer;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/** Shutdown stops accepting, finishes the running and queued jobs, answers them, and loses nothing. */
class ShutdownTest {

    @Test
    void queuedAndRunningJobsAreFinishedAndAnswered() throws Exception {
        FakePipeline slow = new FakePipeline(40, 1);
        // one job running and three waiting: no merging, or the waiting ones could join the running one
        TestServer s = TestServer.builder().fakeModel("stable-diffusion-1.5").loader(p -> slow)
                .set("queue.max-batch-images", "1").start();
        Http http = new Http(s.baseUrl());
        ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor();
        List<Future<Http.Response>> pending = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            int n = i;
            pending.add(pool.submit(() -> http.postJson("/v1/images/generations", s.premium, Map.of("prompt", "job " + n))));
        }
        LimitsAndQueueTest.waitUntil(() -> slow.stepsRun.get() > 0 && s.server.metrics().scrape().contains("easel_queue_length{device=\"default\"} 3.0"));
        Future<Boolean> stopping = pool.submit(() -> s.server.shutdown(Duration.ofSeconds(30)));
        LimitsAndQueueTest.waitUntil(() -> http.get("/health", null).status() == 503 || stopping.isDone());
        if (!stopping.isDone()) {
            Http.Response refused = http.postJson("/v1/images/generations", s.premium, Map.of("prompt", "too late"));
            assertThat(refused.status()).isEqualTo(503);
            assertThat(refused.json().path("error").path("code").asText()).isEqualTo("shutting_down");
        }
        for (Future<Http.Response> f : pending) {
            Http.Response r = f.get(30, TimeUnit.SECONDS);
            assertThat(r.status()).as(r.text()).isEqualTo(200);
            assertThat(r.json().path("data")).hasSize(1);
        }
        assertThat(stopping.get(30, TimeUnit.SECONDS)).isTrue();
        assertThat(slow.requests).hasSize(4);
        pool.shutdown();
    }
}
