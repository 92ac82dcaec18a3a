package dev.easel.server.api;

import com.fasterxml.jackson.databind.JsonNode;
import dev.easel.server.support.FakePipeline;
import dev.easel.server.support.Http;
import dev.easel.server.support.TestImages;
import dev.easel.server.support.TestServer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.awt.image.BufferedImage;
import java.util.Base64;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

class ImagesGenerationsRouteTest {
    static final FakePipeline pipeline = new FakePipeline();
    static TestServer server;
    static Http http;

    @BeforeAll
    static void start() {
        server = TestServer.builder().fakeModel("stable-diffusion-1.5").loader(p -> pipeline).start();
        http = new Http(server.baseUrl());
    }

    @AfterAll
    static void stop() {
        server.close();
    }

    @Test
    void generatesPngAsBase64WithTheSeedUsed() {
        Http.Response r = http.postJson("/v1/images/generations", server.free,
                Map.of("model", "stable-diffusion-1.5", "prompt", "a red fox", "seed", 42));
        assertThat(r.status()).as(r.text()).isEqualTo(200);
        assertThat(r.header("content-type")).startsWith("application/json");
        JsonNode body = r.json();
        assertThat(body.path("created").asLong()).isPositive();
        assertThat(body.path("seed").asLong()).isEqualTo(42);
        assertThat(body.path("data")).hasSize(1);
        assertThat(body.path("data").get(0).path("seed").asLong()).isEqualTo(42);
        byte[] png = Base64.getDecoder().decode(body.path("data").get(0).path("b64_json").asText());
        BufferedImage image = TestImages.read(png);
        assertThat(image.getWidth()).isEqualTo(64);
        assertThat(image.getHeight()).isEqualTo(64);
        float[] expected = FakePipeline.color(42, 0);
        assertThat((image.getRGB(3, 3) >> 16) & 0xff).isEqualTo(Math.round(expected[0] * 255));
        assertThat(body.path("output_format").asText()).isEqualTo("png");
        assertThat(body.has("size")).as("64x64 is not one of OpenAI's size values").isFalse();
    }

    @Test
    void defaultModelAndRandomSeedAreReported() {
        Http.Response r = http.postJson("/v1/images/generations", server.free, Map.of("prompt", "a cat"));
        assertThat(r.status()).as(r.text()).isEqualTo(200);
        assertThat(r.json().path("model").asText()).isEqualTo("stable-diffusion-1.5");
        assertThat(r.json().path("seed").isIntegralNumber()).isTrue();
    }
}
