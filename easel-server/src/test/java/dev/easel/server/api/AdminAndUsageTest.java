package dev.easel.server.api;

import com.fasterxml.jackson.databind.JsonNode;
import dev.easel.server.support.Http;
import dev.easel.server.support.TestServer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.net.URI;
import java.net.http.HttpRequest;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

class AdminAndUsageTest {
    static TestServer server;
    static Http http;

    @BeforeAll
    static void start() {
        server = TestServer.builder().fakeModel("stable-diffusion-1.5")
                .model("my_finetune.safetensors", dev.easel.server.support.Fixtures.sd15SingleFile()).start();
        http = new Http(server.baseUrl());
    }

    @AfterAll
    static void stop() {
        server.close();
    }

    @Test
    void adminCreatesListsAndRevokesKeys() {
        Http.Response created = http.postJson("/v1/admin/keys", server.admin, Map.of("tier", "pro", "name", "team a"));
        assertThat(created.status()).as(created.text()).isEqualTo(201);
        String secret = created.json().path("key").asText();
        String id = created.json().path("id").asText();
        assertThat(secret).startsWith("sk-easel-");
        assertThat(created.json().path("tier").asText()).isEqualTo("pro");

        assertThat(http.postJson("/v1/images/generations", secret, Map.of("prompt", "x")).status()).isEqualTo(200);

        Http.Response list = http.get("/v1/admin/keys", server.admin);
        assertThat(list.status()).isEqualTo(200);
        assertThat(list.text()).doesNotContain(secret).doesNotContain(server.free).doesNotContain(server.admin);
        JsonNode mine = null;
        for (JsonNode k : list.json().path("data")) if (k.path("id").asText().equals(id)) mine = k;
        assertThat(mine).isNotNull();
        assertThat(mine.path("name").asText()).isEqualTo("team a");
        assertThat(mine.has("key")).isFalse();

        JsonNode usage = http.get("/v1/admin/keys/" + id + "/usage", server.admin).json();
        assertThat(usage.path("total").path("images").asLong()).isEqualTo(1);

        Http.Response revoked = http.delete("/v1/admin/keys/" + id, server.admin);
        assertThat(revoked.status()).isEqualTo(200);
        assertThat(revoked.text()).doesNotContain(secret);
        assertThat(http.postJson("/v1/images/generations", secret, Map.of("prompt", "x")).status()).isEqualTo(401);
        assertThat(http.delete("/v1/admin/keys/key_99999", server.admin).status()).isEqualTo(404);
    }

    @Test
    void badAdminRequestsAre400() {
        assertThat(http.postJson("/v1/admin/keys", server.admin, Map.of("tier", "gold", "name", "x")).status()).isEqualTo(400);
        assertThat(http.postJson("/v1/admin/keys", server.admin, Map.of("tier", "free")).status()).isEqualTo(400);
        assertThat(http.postJson("/v1/admin/keys", server.admin, "nope").status()).isEqualTo(400);
    }

    @Test
    void aKeyReadsItsOwnUsage() {
        var key = server.server.keys().create("usage reader", dev.easel.server.auth.Tier.PRO, false).secret();
        assertThat(http.postJson("/v1/images/generations", key, Map.of("prompt", "x", "n", 3, "size", "64x32")).status()).isEqualTo(200);
        JsonNode u = http.get("/v1/usage", key).json();
        assertThat(u.path("key").path("tier").asText()).isEqualTo("pro");
        assertThat(u.path("today").path("images").asLong()).isEqualTo(3);
        assertThat(u.path("today").path("pixels").asLong()).isEqualTo(3 * 64 * 32);
        assertThat(u.path("today").path("jobs").asLong()).isEqualTo(1);
        assertThat(u.path("today").path("compute_seconds").isNumber()).isTrue();
        assertThat(u.path("daily")).hasSize(1);
        assertThat(u.path("limits").path("requests_per_minute").asInt()).isPositive();
        assertThat(u.toString()).doesNotContain(key);
        assertThat(http.get("/v1/usage?days=0", key).status()).isEqualTo(400);
    }

    @Test
    void modelsListTheCatalogAndDetectedCheckpoints() {
        JsonNode list = http.get("/v1/models", server.free).json();
        assertThat(list.path("object").asText()).isEqualTo("list");
        Map<String, JsonNode> byId = new java.util.HashMap<>();
        list.path("data").forEach(m -> byId.put(m.path("id").asText(), m));
        assertThat(byId).containsKeys("stable-diffusion-1.5", "sdxl_lightning_4step.safetensors", "flux.1-schnell", "oxlo-image-pro", "my_finetune.safetensors");
        assertThat(byId.get("stable-diffusion-1.5").path("installed").asBoolean()).isTrue();
        assertThat(byId.get("oxlo-image-pro").path("tier").asText()).isEqualTo("premium");
        assertThat(byId.get("oxlo-image-pro").path("installed").asBoolean()).isFalse();
        assertThat(byId.get("oxlo-image-pro").path("default_size").asText()).isEqualTo("1024x1024");
        assertThat(byId.get("my_finetune.safetensors").path("catalogued").asBoolean()).isFalse();
        assertThat(byId.get("my_finetune.safetensors").path("tier").asText()).isEqualTo("free");
        assertThat(byId.get("my_finetune.safetensors").path("family").asText()).isEqualTo("sd15");
        // the weight mode each runs with: SD fp32 by default; FLUX.1 chooses at load (w8a8 or int8 when fp32 does not fit)
        assertThat(byId.get("stable-diffusion-1.5").path("weights").asText()).isEqualTo("fp32");
        assertThat(byId.get("flux.1-schnell").path("weights").asText()).isEqualTo("auto");
        assertThat(http.get("/v1/models", null).status()).isEqualTo(401);
    }

    @Test
    void healthAndMetrics() {
        Http.Response health = http.get("/health", null);
        assertThat(health.status()).isEqualTo(200);
        assertThat(health.json().path("status").asText()).isEqualTo("ok");
        http.postJson("/v1/images/generations", server.free, Map.of("prompt", "for metrics"));
        String metrics = http.get("/metrics", null).text();
        assertThat(metrics).contains("easel_queue_length{device=\"default\"}");
        assertThat(metrics).contains("easel_jobs_total{model=\"stable-diffusion-1.5\",outcome=\"succeeded\"}");
        assertThat(metrics).contains("easel_step_seconds_count{model=\"stable-diffusion-1.5\"}");
        assertThat(metrics).contains("easel_images_generated_total{model=\"stable-diffusion-1.5\"}");
        assertThat(metrics).contains("jvm_memory_used_bytes");
    }

    @Test
    void urlImagesAreServedWithoutAuthAndUnknownOnesAre404() {
        Http.Response r = http.postJson("/v1/images/generations", server.free, Map.of("prompt", "x", "response_format", "url", "output_format", "webp"));
        String url = r.json().path("data").get(0).path("url").asText();
        assertThat(url).endsWith(".webp");
        assertThat(r.json().path("data").get(0).path("expires_at").asLong()).isGreaterThan(System.currentTimeMillis() / 1000);
        Http.Response image = http.send(HttpRequest.newBuilder(URI.create(url)).build());
        assertThat(image.status()).isEqualTo(200);
        assertThat(image.header("content-type")).isEqualTo("image/webp");
        assertThat(new String(image.body(), 8, 4)).isEqualTo("WEBP");
        assertThat(http.get("/files/images/" + "A".repeat(43) + ".png", null).status()).isEqualTo(404);
        assertThat(http.get("/files/images/..%2F..%2Feasel.db", null).status()).isEqualTo(404);
    }

    @Test
    void publicUrlConfigIsUsedForLinks() {
        try (TestServer s = TestServer.builder().fakeModel("stable-diffusion-1.5").set("public-url", "https://images.example.com/").start()) {
            Http h = new Http(s.baseUrl());
            String url = h.postJson("/v1/images/generations", s.free, Map.of("prompt", "x", "response_format", "url"))
                    .json().path("data").get(0).path("url").asText();
            assertThat(url).startsWith("https://images.example.com/files/images/");
        }
    }
}
