package dev.easel.server.api;

import com.fasterxml.jackson.databind.JsonNode;
import dev.easel.server.support.FakePipeline;
import dev.easel.server.support.GatedPipeline;
import dev.easel.server.support.Http;
import dev.easel.server.support.TestDatabases;
import dev.easel.server.support.TestDatabases.Kind;
import dev.easel.server.support.TestImages;
import dev.easel.server.support.TestServer;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/** The async job API on both databases: submit (202), status, result = the synchronous body, cancel, list, ownership. */
class AsyncJobsTest {

    private static TestServer.Builder server(Kind kind) {
        return TestDatabases.use(TestServer.builder().fakeModel("stable-diffusion-1.5"), kind);
    }

    /** Polls a job until it has ended. */
    static JsonNode awaitEnd(Http http, String key, String id) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(15);
        while (true) {
            Http.Response r = http.get("/v1/images/jobs/" + id, key);
            assertThat(r.status()).as(r.text()).isEqualTo(200);
            String status = r.json().path("status").asText();
            if (status.equals("succeeded") || status.equals("failed") || status.equals("cancelled")) return r.json();
            if (System.nanoTime() > deadline) throw new AssertionError("job " + id + " still " + status);
            Thread.sleep(10);
        }
    }

    @ParameterizedTest
    @EnumSource(Kind.class)
    void anAsyncGenerationAnswers202AndLaterTheSynchronousBody(Kind kind) throws Exception {
        try (TestServer s = server(kind).start()) {
            Http http = new Http(s.baseUrl());
            Http.Response accepted = http.postJson("/v1/images/jobs", s.free, Map.of("prompt", "a red fox", "seed", 42));
            assertThat(accepted.status()).as(accepted.text()).isEqualTo(202);
            JsonNode job = accepted.json();
            String id = job.path("id").asText();
            assertThat(id).startsWith("job_");
            assertThat(job.path("object").asText()).isEqualTo("image.job");
            assertThat(job.path("operation").asText()).isEqualTo("generation");
            assertThat(job.path("mode").asText()).isEqualTo("async");
            assertThat(job.path("status").asText()).isIn("queued", "running", "succeeded");
            assertThat(job.path("parameters").path("seed").asLong()).isEqualTo(42);

            JsonNode done = awaitEnd(http, s.free, id);
            assertThat(done.path("status").asText()).isEqualTo("succeeded");
            assertThat(done.path("error").isNull()).isTrue();
            assertThat(done.path("progress").path("step").asInt()).isEqualTo(4);
            assertThat(done.path("progress").path("total_steps").asInt()).isEqualTo(4);
            assertThat(done.path("started_at").asLong()).isPositive();
            assertThat(done.path("finished_at").asLong()).isGreaterThanOrEqualTo(done.path("started_at").asLong());
            JsonNode result = done.path("result");

            JsonNode sync = http.postJson("/v1/images/generations", s.free, Map.of("prompt", "a red fox", "seed", 42)).json();
            assertThat(fieldNames(result)).isEqualTo(fieldNames(sync));
            assertThat(result.path("data").get(0).path("b64_json").asText())
                    .as("same request, same seed: the same image").isEqualTo(sync.path("data").get(0).path("b64_json").asText());
            assertThat(result.path("seed").asLong()).isEqualTo(42);
            var image = TestImages.read(Base64.getDecoder().decode(result.path("data").get(0).path("b64_json").asText()));
            assertThat((image.getRGB(3, 3) >> 16) & 0xff).isEqualTo(Math.round(FakePipeline.color(42, 0)[0] * 255));
        }
    }

    private static java.util.List<String> fieldNames(JsonNode n) {
        java.util.List<String> names = new java.util.ArrayList<>();
        n.fieldNames().forEachRemaining(names::add);
        names.remove("created");
        java.util.Collections.sort(names);
        return names;
    }

    @ParameterizedTest
    @EnumSource(Kind.class)
    void editsAreJobsTooAsMultipartOrJsonWithOperationEdit(Kind kind) throws Exception {
        try (TestServer s = server(kind).start()) {
            Http http = new Http(s.baseUrl());
            byte[] png = TestImages.png(64, 64, 0x336699);
            Http.Response multipart = http.postMultipart("/v1/images/jobs", s.free, new Http.Multipart()
                    .file("image", "in.png", "image/png", png).text("prompt", "watercolor").text("strength", "0.5"));
            assertThat(multipart.status()).as(multipart.text()).isEqualTo(202);
            assertThat(multipart.json().path("operation").asText()).isEqualTo("edit");

            Map<String, Object> body = new LinkedHashMap<>();
            body.put("operation", "edit");
            body.put("prompt", "oil painting");
            body.put("image", "data:image/png;base64," + Base64.getEncoder().encodeToString(png));
            body.put("response_format", "url");
            Http.Response json = http.postJson("/v1/images/jobs", s.free, body);
            assertThat(json.status()).as(json.text()).isEqualTo(202);

            JsonNode a = awaitEnd(http, s.free, multipart.json().path("id").asText());
            JsonNode b = awaitEnd(http, s.free, json.json().path("id").asText());
            assertThat(a.path("status").asText()).as(a.toString()).isEqualTo("succeeded");
            assertThat(a.path("result").path("data").get(0).path("b64_json").asText()).isNotEmpty();
            assertThat(b.path("status").asText()).as(b.toString()).isEqualTo("succeeded");
            assertThat(b.path("operation").asText()).isEqualTo("edit");
            String url = b.path("result").path("data").get(0).path("url").asText();
            assertThat(url).startsWith(s.baseUrl() + "/files/images/");
            assertThat(http.get(url.substring(s.baseUrl().length()), null).status()).isEqualTo(200);
        }
    }

    @ParameterizedTest
    @EnumSource(Kind.class)
    void aKeySeesOnlyItsOwnJobsAndSynchronousCallsAreRecordedToo(Kind kind) throws Exception {
        try (TestServer s = server(kind).start()) {
            Http http = new Http(s.baseUrl());
            String id = http.postJson("/v1/images/jobs", s.pro, Map.of("prompt", "mine")).json().path("id").asText();
            awaitEnd(http, s.pro, id);
            assertThat(http.get("/v1/images/jobs/" + id, s.free).status()).isEqualTo(404);
            assertThat(http.get("/v1/images/jobs/" + id, s.free).json().path("error").path("code").asText()).isEqualTo("job_not_found");
            assertThat(http.delete("/v1/images/jobs/" + id, s.free).status()).isEqualTo(404);
            assertThat(http.get("/v1/images/jobs/job_doesnotexist", s.pro).status()).isEqualTo(404);
            assertThat(http.get("/v1/images/jobs/" + id, null).status()).isEqualTo(401);

            assertThat(http.postJson("/v1/images/generations", s.free, Map.of("prompt", "sync one")).status()).isEqualTo(200);
            JsonNode freeList = http.get("/v1/images/jobs", s.free).json();
            assertThat(freeList.path("object").asText()).isEqualTo("list");
            assertThat(freeList.path("data")).hasSize(1);
            JsonNode syncJob = freeList.path("data").get(0);
            assertThat(syncJob.path("mode").asText()).isEqualTo("sync");
            assertThat(syncJob.path("status").asText()).isEqualTo("succeeded");
            assertThat(syncJob.path("result").isNull()).as("a synchronous job's images went out on its connection").isTrue();
            assertThat(syncJob.path("parameters").path("prompt").asText()).isEqualTo("sync one");

            JsonNode proList = http.get("/v1/images/jobs?limit=1", s.pro).json();
            assertThat(proList.path("data")).hasSize(1);
            assertThat(proList.path("data").get(0).path("id").asText()).isEqualTo(id);
            assertThat(proList.path("has_more").asBoolean()).isFalse();
        }
    }

    @ParameterizedTest
    @EnumSource(Kind.class)
    void deleteCancelsAQueuedJobAtOnceAndARunningOneAtItsNextStep(Kind kind) throws Exception {
        GatedPipeline gated = new GatedPipeline();
        GatedPipeline.Gate gate = gated.holdCall(0);
        try (TestServer s = server(kind).loader(gated.loader(p -> new FakePipeline())).start()) {
            Http http = new Http(s.baseUrl());
            String running = http.postJson("/v1/images/jobs", s.free, Map.of("prompt", "first")).json().path("id").asText();
            gate.awaitReached();
            String queued = http.postJson("/v1/images/jobs", s.free, Map.of("prompt", "second", "size", "32x32")).json().path("id").asText();
            JsonNode q = http.get("/v1/images/jobs/" + queued, s.free).json();
            assertThat(q.path("status").asText()).isEqualTo("queued");
            assertThat(q.path("queue_position").asInt()).isZero();
            assertThat(q.path("eta_seconds").isNumber()).isTrue();
            JsonNode r = http.get("/v1/images/jobs/" + running, s.free).json();
            assertThat(r.path("status").asText()).isEqualTo("running");
            assertThat(r.path("progress").path("step").asInt()).as("held before its first step is reported").isZero();

            JsonNode cancelled = http.delete("/v1/images/jobs/" + queued, s.free).json();
            assertThat(cancelled.path("status").asText()).isEqualTo("cancelled");
            assertThat(cancelled.path("error").path("code").asText()).isEqualTo("cancelled");

            CompletableFuture<Http.Response> stop = CompletableFuture.supplyAsync(() -> http.delete("/v1/images/jobs/" + running, s.free));
            Thread.sleep(100);
            gate.open();
            JsonNode stopped = stop.get(10, TimeUnit.SECONDS).json();
            assertThat(stopped.path("status").asText()).isEqualTo("cancelled");
            assertThat(stopped.path("progress").path("step").asInt()).isLessThan(4);
            assertThat(gated.calls).hasSize(1);
            // ending twice changes nothing
            assertThat(http.delete("/v1/images/jobs/" + running, s.free).json().path("status").asText()).isEqualTo("cancelled");
        }
    }

    @ParameterizedTest
    @EnumSource(Kind.class)
    void aFailedJobCarriesItsOpenAiErrorAndBadSubmissionsAreRefusedAtOnce(Kind kind) throws Exception {
        try (TestServer s = server(kind).start()) {
            Http http = new Http(s.baseUrl());
            String id = http.postJson("/v1/images/jobs", s.free, Map.of("prompt", FakePipeline.REJECTED_PROMPT)).json().path("id").asText();
            JsonNode failed = awaitEnd(http, s.free, id);
            assertThat(failed.path("status").asText()).isEqualTo("failed");
            assertThat(failed.path("error").path("param").asText()).isEqualTo("prompt");
            assertThat(failed.path("error").path("type").asText()).isEqualTo("invalid_request_error");
            assertThat(failed.path("result").isNull()).isTrue();

            assertThat(http.postJson("/v1/images/jobs", s.free, Map.of("prompt", "x", "stream", true)).status()).isEqualTo(400);
            assertThat(http.postJson("/v1/images/jobs", s.free, Map.of("prompt", "x", "operation", "upscale")).status()).isEqualTo(400);
            assertThat(http.postJson("/v1/images/jobs", s.free, Map.of("prompt", "x", "model", "nope")).status()).isEqualTo(404);
            assertThat(http.postJson("/v1/images/jobs", s.free, Map.of("operation", "edit", "prompt", "x")).status()).isEqualTo(400);
            assertThat(http.get("/v1/images/jobs", s.free).json().path("data")).as("refused requests make no job").hasSize(1);
        }
    }

    @ParameterizedTest
    @EnumSource(Kind.class)
    void resultsAreKeptForTheUrlTtlOnly(Kind kind) throws Exception {
        try (TestServer s = server(kind).set("images.url-ttl-seconds", "1").start()) {
            Http http = new Http(s.baseUrl());
            String id = http.postJson("/v1/images/jobs", s.free, Map.of("prompt", "brief")).json().path("id").asText();
            JsonNode done = awaitEnd(http, s.free, id);
            assertThat(done.path("result").path("data")).hasSize(1);
            assertThat(done.path("result_expires_at").asLong()).isPositive();
            Thread.sleep(1100);
            JsonNode later = http.get("/v1/images/jobs/" + id, s.free).json();
            assertThat(later.path("status").asText()).isEqualTo("succeeded");
            assertThat(later.path("result").isNull()).isTrue();
            assertThat(later.path("result_expired").asBoolean()).isTrue();
        }
    }

    @ParameterizedTest
    @EnumSource(Kind.class)
    void asyncJobsCountAgainstTheKeysConcurrentJobs(Kind kind) throws Exception {
        GatedPipeline gated = new GatedPipeline();
        GatedPipeline.Gate gate = gated.holdCall(0);
        try (TestServer s = server(kind).loader(gated.loader(p -> new FakePipeline()))
                .set("tiers.free.concurrent-jobs", "1").start()) {
            Http http = new Http(s.baseUrl());
            String first = http.postJson("/v1/images/jobs", s.free, Map.of("prompt", "one")).json().path("id").asText();
            gate.awaitReached();
            Http.Response second = http.postJson("/v1/images/jobs", s.free, Map.of("prompt", "two"));
            assertThat(second.status()).isEqualTo(429);
            assertThat(second.json().path("error").path("code").asText()).isEqualTo("concurrency_limit_exceeded");
            gate.open();
            assertThat(awaitEnd(http, s.free, first).path("status").asText()).isEqualTo("succeeded");
            Http.Response third = http.postJson("/v1/images/jobs", s.free, Map.of("prompt", "three"));
            assertThat(third.status()).as("the place is free again once the job ended").isEqualTo(202);
            awaitEnd(http, s.free, third.json().path("id").asText());
        }
    }
}
