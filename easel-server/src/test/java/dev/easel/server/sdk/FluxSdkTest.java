package dev.easel.server.sdk;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.core.JsonValue;
import com.openai.errors.BadRequestException;
import com.openai.errors.PermissionDeniedException;
import com.openai.models.images.ImageEditParams;
import com.openai.models.images.ImageGenerateParams;
import com.openai.models.images.ImagesResponse;
import dev.easel.server.catalog.DiffusionPipelineLoader;
import dev.easel.server.config.ConfigLoader;
import dev.easel.server.config.ServerConfig;
import dev.easel.server.support.Fixtures;
import dev.easel.server.support.FluxParts;
import dev.easel.server.support.Http;
import dev.easel.server.support.ReferenceCase;
import dev.easel.server.support.TestImages;
import dev.easel.server.support.TestServer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeFalse;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The catalog's FLUX.1 models served from BFL's files as they are downloaded, dropped into the models dir: the
 * transformer under the entry's default {@code path} ({@code flux1-schnell.safetensors} for {@code flux.1-schnell},
 * {@code flux1-dev.safetensors} for the premium {@code oxlo-image-pro}) with {@code ae.safetensors},
 * {@code clip_l.safetensors} and {@code t5xxl_fp16.safetensors} beside it, found by their tensors. Called with the
 * official Java and Node SDKs, every flux reference case is reproduced from its seed; tiers, sizes and the model
 * listing answer as OpenAI's API does.
 */
class FluxSdkTest {
    /** The catalog entries of the two FLUX.1 variants (the product's ids): schnell for Pro, dev class for Premium. */
    static final String SCHNELL = "flux.1-schnell";
    static final String DEV = "oxlo-image-pro";
    static final Path NODE_PROJECT = NodeSdkTest.NODE_PROJECT;

    static TestServer server;
    /** The flux cases whose files are all present, each with the catalog id that serves its transformer. */
    static final Map<ReferenceCase, String> served = new LinkedHashMap<>();

    @TempDir
    Path tmp;

    @BeforeAll
    static void start() {
        List<ReferenceCase> cases = ReferenceCase.of("flux").stream().filter(FluxParts::present).toList();
        assumeFalse(cases.isEmpty(), "no flux case with all four files under " + Fixtures.root());
        ServerConfig defaults = new ConfigLoader().load(Optional.empty(), Map.of(), Map.of());
        Map<String, Path> models = new LinkedHashMap<>();
        for (ReferenceCase c : cases) {
            FluxParts parts = FluxParts.of(c);
            String id = parts.guidanceDistilled() ? DEV : SCHNELL;
            served.put(c, id);
            link(models, defaults.catalog().get(id).path(), parts.transformer());
            parts.componentsByDownloadName().forEach((name, file) -> link(models, name, file));
        }
        TestServer.Builder builder = TestServer.builder().loader(new DiffusionPipelineLoader());
        models.forEach(builder::model);
        // the tiny fixtures are far below FLUX.1's real sizes
        for (String id : List.of(SCHNELL, DEV)) builder.set("catalog." + id + ".min-size", "16");
        server = builder.start();
    }

    /** One file per name in the models dir: cases that ran on different files cannot share it. */
    private static void link(Map<String, Path> models, String name, Path file) {
        Path before = models.putIfAbsent(name, file);
        assertThat(before == null || before.equals(file)).as(name + " is both " + before + " and " + file).isTrue();
    }

    @AfterAll
    static void stop() {
        if (server != null) server.close();
    }

    static OpenAIClient client(String key) {
        return OpenAIOkHttpClient.builder().baseUrl(server.baseUrl() + "/v1").apiKey(key).maxRetries(0).build();
    }

    static String keyFor(String id) {
        return id.equals(DEV) ? server.premium : server.pro;
    }

    // ---------------------------------------------------------------- the Java SDK

    @TestFactory
    Stream<DynamicTest> everyCaseThroughTheJavaSdk() {
        return served.entrySet().stream().map(e -> DynamicTest.dynamicTest(e.getKey().name() + " as " + e.getValue(), () -> {
            ReferenceCase c = e.getKey();
            String id = e.getValue();
            OpenAIClient client = client(keyFor(id));
            ImagesResponse r;
            if (c.source().isPresent()) {
                r = client.images().edit(ImageEditParams.builder()
                        .model(id).prompt(c.prompt())
                        .image(Files.readAllBytes(c.source().get()))
                        .putAdditionalBodyProperty("strength", JsonValue.from(c.strength()))
                        .putAdditionalBodyProperty("steps", JsonValue.from(c.steps()))
                        .putAdditionalBodyProperty("guidance_scale", JsonValue.from(c.guidance()))
                        .putAdditionalBodyProperty("seed", JsonValue.from(c.seed()))
                        .build());
            } else {
                r = client.images().generate(ImageGenerateParams.builder()
                        .model(id).prompt(c.prompt()).size(c.size())
                        .putAdditionalBodyProperty("steps", JsonValue.from(c.steps()))
                        .putAdditionalBodyProperty("guidance_scale", JsonValue.from(c.guidance()))
                        .putAdditionalBodyProperty("seed", JsonValue.from(c.seed()))
                        .build());
            }
            assertThat(r._additionalProperties().get("seed").toString()).isEqualTo(Long.toString(c.seed()));
            byte[] png = Base64.getDecoder().decode(r.data().orElseThrow().getFirst().b64Json().orElseThrow());
            c.assertReproducedBy(ReferenceCase.read(png), "through the Java SDK");
        }));
    }

    @Test
    void aProKeyAskingForThePremiumModelIsRefusedNamingPremium() {
        assertThatThrownBy(() -> client(server.pro).images().generate(ImageGenerateParams.builder()
                .model(DEV).prompt("a lighthouse").size("64x64").build()))
                .isInstanceOfSatisfying(PermissionDeniedException.class, e -> assertThat(e.param()).hasValue("model"))
                .hasMessageContaining("premium");
    }

    @Test
    void aSizeThatIsNotAMultipleOfSixteenIsRefused() {
        for (String id : List.of(SCHNELL, DEV)) {
            assertThatThrownBy(() -> client(keyFor(id)).images().generate(ImageGenerateParams.builder()
                    .model(id).prompt("a lighthouse").size("72x64").build()))
                    .as(id)
                    .isInstanceOfSatisfying(BadRequestException.class, e -> assertThat(e.param()).hasValue("size"))
                    .hasMessageContaining("16");
        }
    }

    @Test
    void aMaskedEditIsRefusedAsNotSupported() {
        assertThatThrownBy(() -> client(server.pro).images().edit(ImageEditParams.builder()
                .model(SCHNELL).prompt("a lighthouse")
                .image(TestImages.png(64, 64, 0x336699))
                .mask(TestImages.mask(64, 64, 16, 16, 48, 48))
                .build()))
                .isInstanceOfSatisfying(BadRequestException.class, e -> assertThat(e.param()).hasValue("mask"))
                .hasMessageContaining("not supported");
    }

    @Test
    void modelsListsBothFluxModelsInstalledAndAvailableAndNotTheirParts() {
        JsonNode list = new Http(server.baseUrl()).get("/v1/models", server.pro).json();
        Map<String, JsonNode> byId = new LinkedHashMap<>();
        list.get("data").forEach(m -> byId.put(m.get("id").asText(), m));
        for (String id : List.of(SCHNELL, DEV)) {
            JsonNode m = byId.get(id);
            assertThat(m).as(id + " in " + list).isNotNull();
            assertThat(m.get("family").asText()).as(id).isEqualTo("flux");
            assertThat(m.get("installed").asBoolean()).as(id + ": " + m).isTrue();
            assertThat(m.get("available").asBoolean()).as(id + ": " + m).isTrue();
        }
        assertThat(byId.get(SCHNELL).get("tier").asText()).isEqualTo("pro");
        assertThat(byId.get(DEV).get("tier").asText()).isEqualTo("premium");
        // the autoencoder and text encoders are parts of the models, not models of their own
        assertThat(byId.keySet()).doesNotContainAnyElementsOf(
                served.keySet().stream().flatMap(c -> FluxParts.of(c).componentsByDownloadName().keySet().stream()).toList());
    }

    // ---------------------------------------------------------------- the Node SDK

    /**
     * {@code src/test/node/flux-sdk-test.mjs} makes every case's request with the official Node SDK and writes the
     * PNG it gets; each must be the reference image. Skipped, as {@link NodeSdkTest}, without {@code node_modules}.
     */
    @Test
    void everyCaseThroughTheNodeSdk() throws Exception {
        assumeTrue(Files.isDirectory(NODE_PROJECT.resolve("node_modules/openai")),
                "node_modules is absent: run `npm ci` in easel-server/src/test/node (.ci/run does) to run the Node SDK test");
        ObjectMapper json = new ObjectMapper();
        ArrayNode requests = json.createArrayNode();
        for (var e : served.entrySet()) {
            ReferenceCase c = e.getKey();
            ObjectNode r = requests.addObject();
            r.put("name", c.dir().getFileName().toString());
            r.put("model", e.getValue());
            r.put("tier", e.getValue().equals(DEV) ? "premium" : "pro");
            r.put("prompt", c.prompt());
            r.put("size", c.size());
            r.put("steps", c.steps());
            r.put("guidance_scale", c.guidance());
            r.put("seed", c.seed());
            c.source().ifPresent(s -> {
                r.put("source", s.toAbsolutePath().toString());
                r.put("strength", c.strength());
            });
        }
        Path out = Files.createDirectories(tmp.resolve("node-out"));
        ProcessBuilder pb = new ProcessBuilder("node", "flux-sdk-test.mjs").directory(NODE_PROJECT.toFile()).redirectErrorStream(true);
        pb.environment().put("EASEL_BASE_URL", server.baseUrl());
        pb.environment().put("EASEL_KEY_PRO", server.pro);
        pb.environment().put("EASEL_KEY_PREMIUM", server.premium);
        pb.environment().put("EASEL_FLUX_REQUESTS", json.writeValueAsString(requests));
        pb.environment().put("EASEL_OUTPUT_DIR", out.toAbsolutePath().toString());
        Process p = pb.start();
        boolean done = p.waitFor(180, TimeUnit.SECONDS);
        String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        System.out.println(output);
        if (!done) p.destroyForcibly();
        assertThat(done).as("the Node SDK run finished in time").isTrue();
        assertThat(p.exitValue()).as(output).isZero();
        assertThat(output).doesNotContain("not ok");
        for (ReferenceCase c : served.keySet()) {
            Path png = out.resolve(c.dir().getFileName() + ".png");
            assertThat(png).as(output).exists();
            c.assertReproducedBy(ReferenceCase.read(png), "through the Node SDK");
        }
    }
}
