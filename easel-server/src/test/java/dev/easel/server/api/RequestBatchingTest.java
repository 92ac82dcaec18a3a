package dev.easel.server.api;

import com.fasterxml.jackson.databind.JsonNode;
import dev.easel.diffusion.pipeline.GenerationRequest;
import dev.easel.server.catalog.DiffusionPipelineLoader;
import dev.easel.server.support.Fixtures;
import dev.easel.server.support.GatedPipeline;
import dev.easel.server.support.Http;
import dev.easel.server.support.TestServer;
import org.junit.jupiter.api.Test;

import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import static dev.easel.server.api.LimitsAndQueueTest.waitUntil;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Concurrent compatible requests to a server on the SD 1.5 fixture model run as one pipeline call, and each
 * answer holds exactly the images the same request gets alone.
 */
class RequestBatchingTest {
    static final String MODEL = "stable-diffusion-1.5";
    final GatedPipeline pipeline = new GatedPipeline();
    final ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor();

    TestServer start() {
        return TestServer.builder().model(MODEL, Fixtures.sd15Model())
                .loader(pipeline.loader(new DiffusionPipelineLoader())).start();
    }

    /** A request that holds the device (its call waits at its first step) so that the next ones queue up. */
    GatedPipeline.Gate block(Http http, TestServer s) throws InterruptedException {
        GatedPipeline.Gate gate = pipeline.holdCall(pipeline.calls.size());
        pool.submit(() -> http.postJson("/v1/images/generations", s.pro, Map.of("prompt", "blocker", "size", "48x48")));
        gate.awaitReached();
        return gate;
    }

    static void waitForQueue(TestServer s, int jobs) throws InterruptedException {
        waitUntil(() -> s.server.metrics().scrape().contains("easel_queue_length{device=\"default\"} " + jobs + ".0"));
    }

    @Test
    void compatibleRequestsRunAsOneCallAndEachGetsTheImagesItGetsAlone() throws Exception {
        List<Map<String, Object>> bodies = List.of(
                Map.of("prompt", "a red cube on a table", "negative_prompt", "blurry", "seed", 11, "sampler", "euler_a"),
                Map.of("prompt", "a lighthouse at night", "seed", 22, "n", 2, "sampler", "euler_a"),
                Map.of("prompt", "a bowl of fruit", "seed", 33, "sampler", "Euler a"));
        try (TestServer s = start()) {
            Http http = new Http(s.baseUrl());
            GatedPipeline.Gate blocker = block(http, s);
            List<Future<Http.Response>> merged = new ArrayList<>();
            for (Map<String, Object> body : bodies) {
                merged.add(pool.submit(() -> http.postJson("/v1/images/generations", s.free, body)));
                waitForQueue(s, merged.size()); // queue order = list order
            }
            blocker.open();
            List<JsonNode> mergedAnswers = new ArrayList<>();
            for (Future<Http.Response> f : merged) {
                Http.Response r = f.get(60, TimeUnit.SECONDS);
                assertThat(r.status()).as(r.text()).isEqualTo(200);
                mergedAnswers.add(r.json());
            }
            assertThat(pipeline.calls).hasSize(2);
            assertThat(pipeline.calls.get(1)).extracting(GenerationRequest::seed).containsExactly(11L, 22L, 33L);
            String metrics = s.server.metrics().scrape();
            assertThat(metrics).contains("easel_batches_total{model=\"" + MODEL + "\"} 2.0")
                    .contains("easel_batch_jobs_max{model=\"" + MODEL + "\"} 3.0")
                    .contains("easel_batch_images_sum{model=\"" + MODEL + "\"} 5.0");

            for (int i = 0; i < bodies.size(); i++) {
                Http.Response alone = http.postJson("/v1/images/generations", s.free, bodies.get(i));
                assertThat(alone.status()).isEqualTo(200);
                assertThat(pipeline.calls.getLast()).hasSize(1);
                JsonNode mergedData = mergedAnswers.get(i).path("data");
                JsonNode aloneData = alone.json().path("data");
                assertThat(mergedData.size()).isEqualTo(bodies.get(i).containsKey("n") ? 2 : 1).isEqualTo(aloneData.size());
                for (int k = 0; k < aloneData.size(); k++) {
                    assertThat(mergedData.get(k).path("b64_json").asText()).as("request %d image %d: merged vs alone", i, k)
                            .isEqualTo(aloneData.get(k).path("b64_json").asText());
                }
                JsonNode usage = mergedAnswers.get(i).path("usage");
                assertThat(usage.path("images").asInt()).isEqualTo(aloneData.size());
                assertThat(usage.path("compute_seconds").asDouble()).isPositive();
                assertThat(mergedAnswers.get(i).path("seed").asLong()).isEqualTo(((Number) bodies.get(i).get("seed")).longValue());
            }
            assertThat(mergedAnswers.get(0).path("data").get(0).path("b64_json").asText())
                    .isNotEqualTo(mergedAnswers.get(2).path("data").get(0).path("b64_json").asText());
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void requestsWithAnotherRecipeAreNotMerged() throws Exception {
        try (TestServer s = start()) {
            Http http = new Http(s.baseUrl());
            GatedPipeline.Gate blocker = block(http, s);
            List<Future<Http.Response>> answers = new ArrayList<>();
            for (Map<String, Object> body : List.of(Map.<String, Object>of("prompt", "a", "seed", 1),
                    Map.<String, Object>of("prompt", "b", "seed", 2, "steps", 3),
                    Map.<String, Object>of("prompt", "c", "seed", 3, "size", "64x48"),
                    Map.<String, Object>of("prompt", "d", "seed", 4, "guidance_scale", 5))) {
                answers.add(pool.submit(() -> http.postJson("/v1/images/generations", s.free, body)));
                waitForQueue(s, answers.size());
            }
            blocker.open();
            for (Future<Http.Response> f : answers) assertThat(f.get(60, TimeUnit.SECONDS).status()).isEqualTo(200);
            assertThat(pipeline.calls).hasSize(5).allSatisfy(call -> assertThat(call).hasSize(1));
            assertThat(s.server.metrics().scrape()).contains("easel_batch_jobs_max{model=\"" + MODEL + "\"} 1.0");
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void aClientThatLeavesItsBatchDoesNotStopTheOthers() throws Exception {
        try (TestServer s = start()) {
            Http http = new Http(s.baseUrl());
            GatedPipeline.Gate blocker = block(http, s);
            GatedPipeline.Gate batch = pipeline.holdCall(1);
            Future<Http.Response> first = pool.submit(() ->
                    http.postJson("/v1/images/generations", s.free, Map.of("prompt", "stays", "seed", 1)));
            waitForQueue(s, 1);
            byte[] body = "{\"prompt\":\"leaves\",\"seed\":2}".getBytes(StandardCharsets.UTF_8);
            try (Socket leaving = new Socket("127.0.0.1", s.server.port())) {
                String head = "POST /v1/images/generations HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + s.free
                        + "\r\nContent-Type: application/json\r\nContent-Length: " + body.length + "\r\n\r\n";
                leaving.getOutputStream().write(head.getBytes(StandardCharsets.UTF_8));
                leaving.getOutputStream().write(body);
                leaving.getOutputStream().flush();
                waitForQueue(s, 2);
                Future<Http.Response> last = pool.submit(() ->
                        http.postJson("/v1/images/generations", s.free, Map.of("prompt", "stays too", "seed", 3)));
                waitForQueue(s, 3);
                blocker.open();
                batch.awaitReached(); // the three run as one call, held after its first step
                assertThat(pipeline.calls.get(1)).extracting(GenerationRequest::prompt).containsExactly("stays", "leaves", "stays too");
                leaving.close();
                Thread.sleep(500); // the server notices the closed connection (a selector wake-up: milliseconds)
                batch.open();
                for (Future<Http.Response> f : List.of(first, last)) {
                    Http.Response r = f.get(60, TimeUnit.SECONDS);
                    assertThat(r.status()).as(r.text()).isEqualTo(200);
                    assertThat(r.json().path("data").get(0).path("b64_json").asText()).isNotEmpty();
                }
            }
            String metrics = s.server.metrics().scrape();
            assertThat(metrics).contains("easel_jobs_total{model=\"" + MODEL + "\",outcome=\"cancelled\"} 1.0")
                    .contains("easel_jobs_total{model=\"" + MODEL + "\",outcome=\"succeeded\"} 3.0");
            assertThat(pipeline.calls).hasSize(2);
        } finally {
            pool.shutdownNow();
        }
    }
}
