package dev.easel.server.api;

import com.fasterxml.jackson.databind.JsonNode;
import dev.easel.server.support.FakePipeline;
import dev.easel.server.support.Http;
import dev.easel.server.support.TestImages;
import dev.easel.server.support.TestServer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/** Every failure answers OpenAI's error body with the right status; no stack trace reaches a client. */
class ErrorMappingTest {
    static TestServer server;
    static Http http;

    @BeforeAll
    static void start() {
        server = TestServer.builder().fakeModel("stable-diffusion-1.5").fakeModel("broken")
                .set("catalog.broken.family", "sd15")
                .set("catalog.broken.tier", "free")
                .set("catalog.exploding.family", "sd15")
                .set("catalog.exploding.size", "64x64")
                .fakeModel("exploding")
                .loader(files -> switch (files.checkpoint().getFileName().toString()) {
                    case "broken" -> throw new IllegalArgumentException("family 'sd3' is not supported yet (" + files.checkpoint().toAbsolutePath() + ")");
                    case "exploding" -> new FakePipeline() {
                        @Override
                        public java.util.List<java.util.List<dev.easel.diffusion.image.RgbImage>> generateBatch(
                                java.util.List<dev.easel.diffusion.pipeline.GenerationRequest> r, dev.easel.diffusion.pipeline.ProgressListener p) {
                            throw new IllegalStateException("boom at dev.easel.Secret.line(42)");
                        }
                    };
                    default -> new FakePipeline();
                })
                .set("limits.max-body-mb", "1")
                .set("limits.max-prompt-chars", "100")
                .start();
        http = new Http(server.baseUrl());
    }

    @AfterAll
    static void stop() {
        server.close();
    }

    static JsonNode error(Http.Response r, int status) {
        assertThat(r.status()).as(r.text()).isEqualTo(status);
        assertThat(r.header("content-type")).startsWith("application/json");
        JsonNode e = r.json().path("error");
        assertThat(e.isObject()).as(r.text()).isTrue();
        assertThat(e.path("message").isTextual()).isTrue();
        assertThat(e.path("type").isTextual()).isTrue();
        assertThat(e.has("param")).isTrue();
        assertThat(e.has("code")).isTrue();
        assertThat(r.text()).doesNotContain("Exception").doesNotContain("\tat ").doesNotContain(".java:");
        return e;
    }

    Http.Response generate(String key, Object body) {
        return http.postJson("/v1/images/generations", key, body);
    }

    @Test
    void missingKeyIs401() {
        JsonNode e = error(generate(null, Map.of("prompt", "x")), 401);
        assertThat(e.path("code").asText()).isEqualTo("missing_api_key");
    }

    @Test
    void wrongKeyIs401AndNotEchoed() {
        String bad = "sk-easel-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
        Http.Response r = generate(bad, Map.of("prompt", "x"));
        JsonNode e = error(r, 401);
        assertThat(e.path("code").asText()).isEqualTo("invalid_api_key");
        assertThat(r.text()).doesNotContain(bad);
        error(generate("not-even-a-key", Map.of("prompt", "x")), 401);
    }

    @Test
    void revokedKeyIs401() {
        var created = server.server.keys().create("soon gone", dev.easel.server.auth.Tier.FREE, false);
        server.server.keys().revoke(created.key().id());
        assertThat(error(generate(created.secret(), Map.of("prompt", "x")), 401).path("code").asText()).isEqualTo("revoked_api_key");
    }

    @Test
    void modelAboveTheKeysTierIs403NamingTheTier() {
        JsonNode e = error(generate(server.free, Map.of("model", "flux.1-schnell", "prompt", "x")), 403);
        assertThat(e.path("message").asText()).contains("pro");
        assertThat(e.path("param").asText()).isEqualTo("model");
        JsonNode premium = error(generate(server.pro, Map.of("model", "oxlo-image-pro", "prompt", "x")), 403);
        assertThat(premium.path("message").asText()).contains("premium");
    }

    @Test
    void unknownModelIs404() {
        JsonNode e = error(generate(server.free, Map.of("model", "dall-e-9", "prompt", "x")), 404);
        assertThat(e.path("code").asText()).isEqualTo("model_not_found");
        error(http.get("/v1/models/dall-e-9", server.free), 404);
        error(http.get("/v1/nothing-here", server.free), 404);
    }

    @Test
    void catalogModelWithoutWeightsIs422() {
        JsonNode e = error(generate(server.pro, Map.of("model", "flux.1-schnell", "prompt", "x")), 422);
        assertThat(e.path("message").asText()).contains("not installed");
    }

    @Test
    void modelThatFailsToLoadIs422AndListedWithTheReasonWithoutServerPaths() {
        Http.Response r = generate(server.free, Map.of("model", "broken", "prompt", "x"));
        JsonNode e = error(r, 422);
        assertThat(e.path("message").asText()).contains("sd3");
        assertThat(r.header("x-should-retry")).isEqualTo("false");
        assertThat(r.text()).doesNotContain(server.dir.toString());
        JsonNode listed = http.get("/v1/models/broken", server.free).json();
        assertThat(listed.path("available").asBoolean()).isFalse();
        assertThat(listed.path("unavailable_reason").asText()).contains("sd3");
        assertThat(listed.path("installed").asBoolean()).isTrue();
        error(generate(server.free, Map.of("model", "broken", "prompt", "x")), 422);
    }

    @Test
    void failingGenerationIs500WithoutDetailsAndNotToBeRetried() {
        Http.Response r = generate(server.free, Map.of("model", "exploding", "prompt", "x"));
        JsonNode e = error(r, 500);
        assertThat(r.header("x-should-retry")).isEqualTo("false");
        assertThat(r.text()).doesNotContain("boom").doesNotContain("Secret");
        assertThat(e.path("type").asText()).isEqualTo("server_error");
    }

    @Test
    void badSizesAre400() {
        assertThat(error(generate(server.free, Map.of("prompt", "x", "size", "500x500")), 400).path("param").asText()).isEqualTo("size");
        assertThat(error(generate(server.free, Map.of("prompt", "x", "size", "500x500")), 400).path("message").asText()).contains("multiples of 8");
        assertThat(error(generate(server.free, Map.of("prompt", "x", "size", "4096x4096")), 400).path("message").asText()).contains("1024");
        assertThat(error(generate(server.free, Map.of("prompt", "x", "size", "huge")), 400).path("code").asText()).isEqualTo("invalid_size");
        error(generate(server.free, Map.of("prompt", "x", "size", "16x16")), 400);
        error(generate(server.free, Map.of("prompt", "x", "width", 64)), 400);
    }

    @Test
    void missingOrTooLongPromptIs400() {
        JsonNode e = error(generate(server.free, Map.of("model", "stable-diffusion-1.5")), 400);
        assertThat(e.path("param").asText()).isEqualTo("prompt");
        assertThat(e.path("code").asText()).isEqualTo("missing_required_parameter");
        error(generate(server.free, Map.of("prompt", "   ")), 400);
        assertThat(error(generate(server.free, Map.of("prompt", "x".repeat(101))), 400).path("code").asText())
                .isEqualTo("string_above_max_length");
        error(generate(server.free, Map.of("prompt", 12)), 400);
    }

    @Test
    void nOutOfRangeIs400() {
        assertThat(error(generate(server.premium, Map.of("prompt", "x", "n", 0)), 400).path("code").asText()).isEqualTo("integer_below_min_value");
        assertThat(error(generate(server.premium, Map.of("prompt", "x", "n", 11)), 400).path("param").asText()).isEqualTo("n");
        assertThat(error(generate(server.free, Map.of("prompt", "x", "n", 5)), 400).path("message").asText()).contains("free tier");
        error(generate(server.free, Map.of("prompt", "x", "n", 1.5)), 400);
        error(generate(server.free, Map.of("prompt", "x", "n", "two")), 400);
    }

    @Test
    void otherBadParametersAre400() {
        error(generate(server.free, Map.of("prompt", "x", "response_format", "gif")), 400);
        error(generate(server.free, Map.of("prompt", "x", "output_format", "bmp")), 400);
        error(generate(server.free, Map.of("prompt", "x", "output_compression", 101)), 400);
        error(generate(server.free, Map.of("prompt", "x", "steps", 0)), 400);
        error(generate(server.free, Map.of("prompt", "x", "guidance_scale", -1)), 400);
        error(generate(server.free, Map.of("prompt", "x", "seed", -5)), 400);
        error(generate(server.free, Map.of("prompt", "x", "strength", 0.5)), 400);
        error(generate(server.free, Map.of("prompt", "x", "background", "transparent")), 400);
        error(generate(server.free, Map.of("prompt", "x", "quality", "ultra")), 400);
        error(generate(server.free, "{not json"), 400);
        error(generate(server.free, "[1,2]"), 400);
        JsonNode sampler = error(generate(server.free, Map.of("prompt", "x", "sampler", "bogus")), 400);
        assertThat(sampler.path("param").asText()).isEqualTo("sampler");
    }

    @Test
    void anEditImageThatIsNotAnImageIs400() {
        Http.Response r = http.postMultipart("/v1/images/edits", server.free, new Http.Multipart()
                .text("prompt", "x")
                .file("image", "cat.png", "image/png", "this is not a png".getBytes()));
        JsonNode e = error(r, 400);
        assertThat(e.path("param").asText()).isEqualTo("image");
        assertThat(e.path("code").asText()).isEqualTo("invalid_image");
        error(http.postJson("/v1/images/edits", server.free, Map.of("prompt", "x", "image", "bm90IGFuIGltYWdl")), 400);
        error(http.postMultipart("/v1/images/edits", server.free, new Http.Multipart().text("prompt", "x")), 400);
    }

    @Test
    void bodyAboveTheLimitIs413BeforeItIsRead() {
        byte[] big = new byte[2 << 20];
        Http.Response r = http.postMultipart("/v1/images/edits", server.free, new Http.Multipart()
                .text("prompt", "x").file("image", "big.png", "image/png", big));
        JsonNode e = error(r, 413);
        assertThat(e.path("code").asText()).isEqualTo("request_too_large");
        error(generate(server.free, Map.of("prompt", "x", "pad", "y".repeat(2 << 20))), 413);
    }

    @Test
    void adminEndpointsRefuseOtherKeys() {
        error(http.get("/v1/admin/keys", server.premium), 403);
        error(http.postJson("/v1/admin/keys", server.pro, Map.of("tier", "premium", "name", "me")), 403);
        error(http.delete("/v1/admin/keys/key_1", server.free), 403);
        error(http.get("/v1/admin/keys", null), 401);
    }

    @Test
    void unsupportedContentTypeIs415() {
        var req = java.net.http.HttpRequest.newBuilder(java.net.URI.create(server.baseUrl() + "/v1/images/generations"))
                .header("Authorization", "Bearer " + server.free).header("Content-Type", "text/plain")
                .POST(java.net.http.HttpRequest.BodyPublishers.ofString("prompt=x")).build();
        error(http.send(req), 415);
    }

    @Test
    void wrongMethodIsAnOpenAiError() {
        Http.Response r = http.get("/v1/images/generations", server.free);
        assertThat(r.status()).isIn(404, 405);
        assertThat(r.json().path("error").isObject()).isTrue();
    }

    @Test
    void imageNotGivenAsAFileIsAClearError() {
        error(http.postJson("/v1/images/edits", server.free, Map.of("prompt", "x", "image", "https://example.com/cat.png")), 400);
        error(http.postJson("/v1/images/edits", server.free, Map.of("prompt", "x", "images", java.util.List.of(Map.of("file_id", "file_1")))), 400);
        error(http.postJson("/v1/images/generations", server.free, Map.of("prompt", "x", "image",
                java.util.Base64.getEncoder().encodeToString(TestImages.png(8, 8, 0)))), 400);
    }
}
