package dev.easel.server.api;

import com.fasterxml.jackson.databind.JsonNode;
import dev.easel.server.catalog.DiffusionPipelineLoader;
import dev.easel.server.support.FakeHub;
import dev.easel.server.support.Fixtures;
import dev.easel.server.support.Http;
import dev.easel.server.support.TestServer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * {@code easel serve --pull}: a request for the catalog's SD 1.5, not installed, starts its download from the hub
 * (here {@link FakeHub} serving the fixture's tiny SD 1.5 single file as the catalog's source) and is answered 503
 * with Retry-After until the file has arrived; then the same request generates.
 */
class ServePullTest {
    static final String REPO = "stable-diffusion-v1-5/stable-diffusion-v1-5";
    static final String FILE = "v1-5-pruned-emaonly.safetensors";
    FakeHub hub;
    byte[] checkpoint;

    @BeforeEach
    void start() throws IOException {
        Path fixture = Fixtures.sd15SingleFile();
        assumeTrue(Files.isRegularFile(fixture), "the fixture directory has no SD 1.5 single file: " + fixture);
        checkpoint = Files.readAllBytes(fixture);
        hub = new FakeHub().file(REPO, FILE, checkpoint);
    }

    @AfterEach
    void stop() {
        if (hub != null) hub.close();
    }

    static final Map<String, Object> REQUEST = Map.of("model", "stable-diffusion-1.5", "prompt", "a lighthouse",
            "size", "64x64", "steps", 2, "seed", 1);

    @Test
    void aMissingCatalogModelIsDownloadedOnceWhileRequestsGet503ThenItGenerates() throws Exception {
        hub.throttle(1 << 20, 150); // about 1.6 s for the 10.9 MB file: long enough to see it in flight
        try (TestServer s = TestServer.builder().loader(new DiffusionPipelineLoader())
                .set("hub.pull-missing", "true").set("hub.endpoint", hub.url()).start()) {
            Http http = new Http(s.baseUrl());
            // several requests at once start one download
            ExecutorService pool = Executors.newFixedThreadPool(5);
            List<Future<Http.Response>> first = new ArrayList<>();
            for (int i = 0; i < 5; i++) {
                first.add(pool.submit((Callable<Http.Response>) () -> http.postJson("/v1/images/generations", s.free, REQUEST)));
            }
            for (Future<Http.Response> f : first) {
                Http.Response r = f.get();
                assertThat(r.status()).as(r.text()).isEqualTo(503);
                assertThat(r.json().at("/error/code").asText()).isEqualTo("model_downloading");
                assertThat(r.json().at("/error/message").asText()).contains("'stable-diffusion-1.5' is being downloaded");
                assertThat(Long.parseLong(r.header("Retry-After"))).isPositive();
            }
            pool.shutdown();

            JsonNode model = http.get("/v1/models/stable-diffusion-1.5", s.free).json();
            assertThat(model.path("installed").asBoolean()).isFalse();
            assertThat(model.at("/download/status").asText()).isEqualTo("downloading");
            assertThat(model.at("/download/bytes").asLong()).isBetween(0L, (long) checkpoint.length - 1);

            Http.Response answer = null;
            long deadline = System.nanoTime() + 120_000_000_000L;
            while (System.nanoTime() < deadline) {
                answer = http.postJson("/v1/images/generations", s.free, REQUEST);
                if (answer.status() != 503) break;
                Thread.sleep(200);
            }
            assertThat(answer.status()).as(answer.text()).isEqualTo(200);
            assertThat(answer.json().at("/data/0/b64_json").asText()).isNotEmpty();
            assertThat(Files.readAllBytes(s.config.modelsDir().resolve("stable-diffusion-1.5.safetensors"))).isEqualTo(checkpoint);
            assertThat(hub.transfers()).hasSize(1);
            assertThat(hub.bytesServed(REPO, FILE)).isEqualTo(checkpoint.length);
            assertThat(hub.requests()).filteredOn(r -> r.startsWith("HEAD ")).hasSize(1);

            JsonNode after = http.get("/v1/models/stable-diffusion-1.5", s.free).json();
            assertThat(after.path("installed").asBoolean()).isTrue();
            assertThat(after.path("available").asBoolean()).isTrue();
            assertThat(after.has("download")).isFalse();
        }
    }

    @Test
    void withoutPullTheAnswersNameTheCommandThatInstallsTheModel() {
        try (TestServer s = TestServer.builder().set("hub.endpoint", hub.url()).start()) {
            Http http = new Http(s.baseUrl());
            Http.Response r = http.postJson("/v1/images/generations", s.free, REQUEST);
            assertThat(r.status()).isEqualTo(422);
            assertThat(r.json().at("/error/message").asText())
                    .contains("the weights of 'stable-diffusion-1.5' are not installed on this server")
                    .contains("install them with `easel pull stable-diffusion-1.5`")
                    .contains("`easel serve --pull`");
            JsonNode model = http.get("/v1/models/stable-diffusion-1.5", s.free).json();
            assertThat(model.path("unavailable_reason").asText()).contains("`easel pull stable-diffusion-1.5`");
            assertThat(hub.requests()).isEmpty();
        }
    }

    @Test
    void aDownloadThatFailsIsAnswered422WithTheReason() throws InterruptedException {
        hub.corrupt(REPO, FILE, 1000);
        try (TestServer s = TestServer.builder().set("hub.pull-missing", "true").set("hub.endpoint", hub.url()).start()) {
            Http http = new Http(s.baseUrl());
            assertThat(http.postJson("/v1/images/generations", s.free, REQUEST).status()).isEqualTo(503);
            Http.Response r = null;
            long deadline = System.nanoTime() + 60_000_000_000L;
            while (System.nanoTime() < deadline) {
                r = http.postJson("/v1/images/generations", s.free, REQUEST);
                if (r.status() != 503) break;
                Thread.sleep(100);
            }
            assertThat(r.status()).as(r.text()).isEqualTo(422);
            assertThat(r.json().at("/error/message").asText()).contains("could not be downloaded")
                    .contains("checksum mismatch");
            JsonNode model = http.get("/v1/models/stable-diffusion-1.5", s.free).json();
            assertThat(model.at("/download/status").asText()).isEqualTo("failed");
            assertThat(model.at("/download/error").asText()).contains("checksum mismatch");
            assertThat(s.config.modelsDir().resolve("stable-diffusion-1.5.safetensors")).doesNotExist();
        }
    }
}
