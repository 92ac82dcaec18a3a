package dev.easel.server.sdk;

import com.fasterxml.jackson.databind.JsonNode;
import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.core.JsonValue;
import com.openai.errors.PermissionDeniedException;
import com.openai.models.images.ImageEditParams;
import com.openai.models.images.ImageGenerateParams;
import com.openai.models.images.ImagesResponse;
import dev.easel.server.catalog.DiffusionPipelineLoader;
import dev.easel.server.support.Fixtures;
import dev.easel.server.support.TestImages;
import dev.easel.server.support.TestServer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Base64;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The Pro catalog model {@code sdxl_lightning_4step.safetensors}, served from an SDXL single file dropped
 * into the models dir under that name (here the tiny SDXL fixture), called with the official SDK without
 * any recipe fields: the catalog's recipe (4 steps, no guidance, trailing Euler) must apply, and the image
 * must be the reference pipeline's image for the same prompt and seed.
 */
class SdxlLightningSdkTest {
    static final String MODEL = "sdxl_lightning_4step.safetensors";
    static TestServer server;

    @BeforeAll
    static void start() {
        server = TestServer.builder()
                .model(MODEL, Fixtures.sdxlSingleFile())
                .loader(new DiffusionPipelineLoader())
                .set("catalog." + MODEL + ".min-size", "64")
                .start();
    }

    @AfterAll
    static void stop() {
        server.close();
    }

    static OpenAIClient client(String key) {
        return OpenAIOkHttpClient.builder().baseUrl(server.baseUrl() + "/v1").apiKey(key).maxRetries(0).build();
    }

    static long seedOf(JsonNode manifest) {
        Matcher seed = Pattern.compile("seeded with (\\d+)").matcher(manifest.get("seed_convention").asText());
        assertThat(seed.find()).isTrue();
        return Long.parseLong(seed.group(1));
    }

    /** An SDXL text-to-image case recorded with the Lightning recipe's steps and guidance (4, none), or skipped. */
    static Fixtures.Case lightningCase() {
        Optional<Fixtures.Case> found = Fixtures.cases("sdxl").stream()
                .filter(c -> c.manifest().path("kind").asText().equals("txt2img"))
                .filter(c -> c.params().path("steps").asInt() == 4 && c.params().path("guidance").asDouble() == 0)
                .findFirst();
        assumeTrue(found.isPresent(), "no sdxl txt2img case with 4 steps and no guidance in " + Fixtures.root());
        return found.get();
    }

    @Test
    void servesTheLightningRecipeAndReproducesTheReferenceImage() throws IOException {
        Fixtures.Case c = lightningCase();
        JsonNode manifest = c.manifest();
        JsonNode p = manifest.get("params");

        ImagesResponse r = client(server.pro).images().generate(ImageGenerateParams.builder()
                .model(MODEL).prompt(p.get("prompt").asText())
                .size(p.get("width").asInt() + "x" + p.get("height").asInt())
                .putAdditionalBodyProperty("seed", JsonValue.from(seedOf(manifest)))
                .build());

        assertThat(r._additionalProperties().get("steps").toString()).isEqualTo("4");
        assertThat(Double.parseDouble(r._additionalProperties().get("guidance_scale").toString())).isZero();
        assertMatchesReference(r, c.dir());
    }

    /** An edit with the image as a file part and the diffusion settings as extra body fields. */
    @Test
    void imageToImageReproducesTheReferenceImage() throws IOException {
        Optional<Fixtures.Case> found = Fixtures.cases("sdxl").stream()
                .filter(c -> c.manifest().path("kind").asText().equals("img2img") && c.file("source.png").isPresent()).findFirst();
        assumeTrue(found.isPresent(), "no sdxl img2img case in " + Fixtures.root());
        Path dir = found.get().dir();
        JsonNode manifest = found.get().manifest();
        JsonNode p = manifest.get("params");
        ImageEditParams.Builder edit = ImageEditParams.builder()
                .model(MODEL).prompt(p.get("prompt").asText())
                .image(Files.readAllBytes(dir.resolve("source.png")))
                .putAdditionalBodyProperty("strength", JsonValue.from(p.get("strength").asDouble()))
                .putAdditionalBodyProperty("steps", JsonValue.from(p.get("steps").asInt()))
                .putAdditionalBodyProperty("guidance_scale", JsonValue.from(p.get("guidance").asDouble()))
                .putAdditionalBodyProperty("seed", JsonValue.from(seedOf(manifest)));
        if (p.hasNonNull("negative_prompt")) {
            edit.putAdditionalBodyProperty("negative_prompt", JsonValue.from(p.get("negative_prompt").asText()));
        }
        ImagesResponse r = client(server.pro).images().edit(edit.build());
        assertMatchesReference(r, dir);
    }

    static void assertMatchesReference(ImagesResponse r, Path dir) throws IOException {
        BufferedImage ours = TestImages.read(Base64.getDecoder().decode(r.data().orElseThrow().getFirst().b64Json().orElseThrow()));
        BufferedImage reference = ImageIO.read(dir.resolve("image.png").toFile());
        assertThat(ours.getWidth()).isEqualTo(reference.getWidth());
        assertThat(ours.getHeight()).isEqualTo(reference.getHeight());
        int worst = 0;
        for (int y = 0; y < ours.getHeight(); y++) {
            for (int x = 0; x < ours.getWidth(); x++) {
                int a = ours.getRGB(x, y);
                int b = reference.getRGB(x, y);
                for (int shift = 0; shift <= 16; shift += 8) worst = Math.max(worst, Math.abs((a >> shift & 0xff) - (b >> shift & 0xff)));
            }
        }
        assertThat(worst).as("8-bit levels from the reference image").isLessThanOrEqualTo(1);
    }

    @Test
    void aFreeKeyIsRefusedNamingTheProTier() {
        assertThatThrownBy(() -> client(server.free).images().generate(ImageGenerateParams.builder()
                .model(MODEL).prompt("a cabin").size("128x64").build()))
                .isInstanceOf(PermissionDeniedException.class)
                .hasMessageContaining("pro");
    }
}
