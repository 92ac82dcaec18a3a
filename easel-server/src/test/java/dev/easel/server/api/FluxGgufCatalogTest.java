package dev.easel.server.api;

import com.fasterxml.jackson.databind.JsonNode;
import dev.easel.diffusion.family.Flux;
import dev.easel.engine.runtime.WeightMode;
import dev.easel.engine.weights.SafetensorsFile;
import dev.easel.engine.weights.gguf.GgufType;
import dev.easel.engine.weights.gguf.GgufWriter;
import dev.easel.server.catalog.DiffusionPipelineLoader;
import dev.easel.server.support.FluxParts;
import dev.easel.server.support.Fixtures;
import dev.easel.server.support.Http;
import dev.easel.server.support.ReferenceCase;
import dev.easel.server.support.TestServer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

/**
 * A catalog entry whose {@code path} is a GGUF FLUX.1 transformer (city96's layout: BFL names, the block linears in
 * Q8_0 or Q4_0), its autoencoder and text encoders found beside it: listed with the weight mode its blocks give,
 * loaded and served through the HTTP API; a broken GGUF entry fails with a message naming the problem, for that
 * model only. The GGUF files are written here, with the project's GGUF writer, from a FLUX fixture case's transformer.
 */
class FluxGgufCatalogTest {
    static TestServer server;
    static Http http;

    @BeforeAll
    static void start() throws IOException {
        List<ReferenceCase> cases = ReferenceCase.of("flux").stream().filter(FluxParts::present).toList();
        assumeFalse(cases.isEmpty(), "no flux case with all four files under " + Fixtures.root());
        FluxParts parts = FluxParts.of(cases.getFirst());
        Path dir = Files.createTempDirectory("easel-gguf");
        Path q8 = gguf(parts.transformer(), dir.resolve("flux-q8.gguf"), GgufType.Q8_0);
        Path q4 = gguf(parts.transformer(), dir.resolve("flux-q4.gguf"), GgufType.Q4_0);
        // a download cut short: the header and tensor table are there, the data is not
        Path broken = dir.resolve("flux-broken.gguf");
        byte[] whole = Files.readAllBytes(q8);
        Files.write(broken, java.util.Arrays.copyOf(whole, whole.length / 2));

        TestServer.Builder builder = TestServer.builder().loader(new DiffusionPipelineLoader());
        builder.model("flux1-schnell-Q8_0.gguf", q8).model("flux1-schnell-Q4_0.gguf", q4).model("flux1-schnell-broken.gguf", broken);
        builder.model("reference.safetensors", parts.transformer());
        parts.componentsByDownloadName().forEach(builder::model);
        for (String id : List.of("flux-q8", "flux-q4", "flux-q4-listed", "flux-broken", "flux-fp32")) {
            builder.set("catalog." + id + ".family", "flux").set("catalog." + id + ".tier", "free")
                    .set("catalog." + id + ".size", "32x32").set("catalog." + id + ".min-size", "16")
                    .set("catalog." + id + ".steps", "2");
        }
        builder.set("catalog.flux-q8.path", "flux1-schnell-Q8_0.gguf");
        builder.set("catalog.flux-q4.path", "flux1-schnell-Q4_0.gguf");
        builder.set("catalog.flux-q4-listed.path", "flux1-schnell-Q4_0.gguf");
        builder.set("catalog.flux-broken.path", "flux1-schnell-broken.gguf");
        builder.set("catalog.flux-fp32.path", "reference.safetensors");
        builder.set("catalog.flux-fp32.weights", "fp32");
        server = builder.start();
        http = new Http(server.baseUrl());
    }

    @AfterAll
    static void stop() {
        if (server != null) server.close();
    }

    @Test
    void modelsListTheModeAGgufsBlocksGiveBeforeAndAfterLoading() {
        // never loaded in these tests: the mode comes from the file's header
        assertThat(model("flux-q4-listed").path("weights").asText()).isEqualTo("int4");
        assertThat(model("flux-fp32").path("weights").asText()).isEqualTo("fp32");
        assertThat(model("flux-q8").path("weights").asText()).isEqualTo(Flux.quantizedDefault(WeightMode.INT8).label());
        assertThat(model("flux-q4").path("weights").asText()).isEqualTo("int4");
        assertThat(model("flux-q8").path("available").asBoolean()).isTrue();
        generate("flux-q8", 1);
        assertThat(model("flux-q8").path("weights").asText()).isEqualTo(Flux.quantizedDefault(WeightMode.INT8).label());
    }

    /** The GGUF models are the fp32 model quantized: images close to its image from the same seed, Q8_0 closer than Q4_0. */
    @Test
    void ggufEntriesServeImagesOfTheirModel() throws IOException {
        BufferedImage reference = image(generate("flux-fp32", 11));
        double q8 = psnr(image(generate("flux-q8", 11)), reference);
        double q4 = psnr(image(generate("flux-q4", 11)), reference);
        System.out.printf("PSNR against the fp32 model: Q8_0 %.1f dB, Q4_0 %.1f dB%n", q8, q4);
        assertThat(q8).isGreaterThan(q4).isGreaterThan(30);
        assertThat(q4).isGreaterThan(15);
    }

    @Test
    void aBrokenGgufFailsForThatModelOnlyWithItsReason() {
        Http.Response r = http.postJson("/v1/images/generations", server.free,
                Map.of("model", "flux-broken", "prompt", "a lighthouse", "size", "32x32", "response_format", "b64_json"));
        assertThat(r.status()).as(r.text()).isEqualTo(422);
        String message = r.json().path("error").path("message").asText();
        assertThat(message).contains("flux-broken").contains("flux1-schnell-broken.gguf");
        assertThat(message.toLowerCase(java.util.Locale.ROOT)).containsAnyOf("truncated", "beyond", "past the end", "shorter");
        assertThat(model("flux-broken").path("available").asBoolean()).isFalse();
        assertThat(model("flux-broken").path("unavailable_reason").asText()).contains("flux1-schnell-broken.gguf");
        // the others still serve
        generate("flux-q8", 3);
        assertThat(model("flux-q8").path("available").asBoolean()).isTrue();
    }

    private static JsonNode model(String id) {
        Http.Response r = http.get("/v1/models/" + id, server.free);
        assertThat(r.status()).as(r.text()).isEqualTo(200);
        return r.json();
    }

    private static byte[] generate(String id, long seed) {
        Http.Response r = http.postJson("/v1/images/generations", server.free,
                Map.of("model", id, "prompt", "a lighthouse at dusk", "size", "32x32", "seed", seed, "response_format", "b64_json"));
        assertThat(r.status()).as(r.text()).isEqualTo(200);
        return Base64.getDecoder().decode(r.json().path("data").get(0).path("b64_json").asText());
    }

    private static BufferedImage image(byte[] png) throws IOException {
        BufferedImage img = ImageIO.read(new ByteArrayInputStream(png));
        assertThat(img.getWidth()).isEqualTo(32);
        assertThat(img.getHeight()).isEqualTo(32);
        return img;
    }

    private static double psnr(BufferedImage a, BufferedImage b) {
        double se = 0;
        int n = 0;
        for (int y = 0; y < a.getHeight(); y++) {
            for (int x = 0; x < a.getWidth(); x++) {
                int p = a.getRGB(x, y);
                int q = b.getRGB(x, y);
                for (int shift = 0; shift < 24; shift += 8) {
                    double d = ((p >> shift) & 0xff) - ((q >> shift) & 0xff);
                    se += d * d;
                    n++;
                }
            }
        }
        double mse = se / n;
        return mse == 0 ? Double.POSITIVE_INFINITY : 10 * Math.log10(255.0 * 255.0 / mse);
    }

    /** The transformer as city96 lays it out: the blocks' matrices in {@code type}, the rest as F32. */
    static Path gguf(Path transformer, Path out, GgufType type) {
        List<GgufWriter.Entry> entries = new ArrayList<>();
        try (SafetensorsFile file = SafetensorsFile.open(transformer); Arena arena = Arena.ofConfined()) {
            for (String name : file.names()) {
                long[] shape = file.info(name).shape();
                boolean block = name.startsWith("double_blocks.") || name.startsWith("single_blocks.");
                GgufType stored = block && shape.length == 2 && shape[1] % type.blockSize() == 0 ? type : GgufType.F32;
                ByteBuffer b = file.float32(name, arena);
                float[] values = new float[b.remaining() / Float.BYTES];
                b.order(java.nio.ByteOrder.nativeOrder()).asFloatBuffer().get(values);
                entries.add(GgufWriter.Entry.of(name, stored, shape, values));
            }
        }
        GgufWriter.write(out, Map.of("general.architecture", "flux"), entries);
        return out;
    }
}
