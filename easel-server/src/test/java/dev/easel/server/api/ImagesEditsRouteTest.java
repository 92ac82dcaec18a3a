package dev.easel.server.api;

import dev.easel.diffusion.pipeline.GenerationRequest;
import dev.easel.server.support.FakePipeline;
import dev.easel.server.support.Http;
import dev.easel.server.support.TestImages;
import dev.easel.server.support.TestServer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.util.Base64;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/** Every encoding of an edit's image that DESIGN.md section 3 names reaches the pipeline as the same image. */
class ImagesEditsRouteTest {
    static final FakePipeline pipeline = new FakePipeline();
    static TestServer server;
    static Http http;
    static final byte[] PNG = TestImages.png(48, 32, 0x336699);
    static final String B64 = Base64.getEncoder().encodeToString(PNG);

    @BeforeAll
    static void start() {
        server = TestServer.builder().fakeModel("stable-diffusion-1.5").loader(p -> pipeline).start();
        http = new Http(server.baseUrl());
    }

    @AfterAll
    static void stop() {
        server.close();
    }

    @BeforeEach
    void clear() {
        pipeline.requests.clear();
    }

    GenerationRequest last() {
        assertThat(pipeline.requests).isNotEmpty();
        return pipeline.requests.getLast();
    }

    void assertSourceArrived() {
        GenerationRequest r = last();
        assertThat(r.width()).isEqualTo(48);
        assertThat(r.height()).isEqualTo(32);
        var init = r.initImage().orElseThrow();
        int argb = TestImages.read(PNG).getRGB(5, 7);
        assertThat(init.get(7, 5, 0)).isCloseTo(((argb >> 16) & 0xff) / 255f, within(1e-6f));
        assertThat(init.get(7, 5, 2)).isCloseTo((argb & 0xff) / 255f, within(1e-6f));
    }

    Http.Response multipart(Http.Multipart form) {
        Http.Response r = http.postMultipart("/v1/images/edits", server.free, form.text("prompt", "an edit"));
        assertThat(r.status()).as(r.text()).isEqualTo(200);
        return r;
    }

    @Test
    void filePartWithFilenameAndType() {
        multipart(new Http.Multipart().file("image", "in.png", "image/png", PNG));
        assertSourceArrived();
    }

    @Test
    void filePartWithoutFilenameOrTypeDetectedFromTheBytes() {
        multipart(new Http.Multipart().part("image", null, null, PNG));
        assertSourceArrived();
        multipart(new Http.Multipart().part("image", "blob", "application/octet-stream", PNG));
        assertSourceArrived();
    }

    @Test
    void repeatedImageArrayParts() {
        multipart(new Http.Multipart().file("image[]", "a.png", "image/png", PNG));
        assertSourceArrived();
        Http.Response two = http.postMultipart("/v1/images/edits", server.free, new Http.Multipart()
                .file("image[]", "a.png", "image/png", PNG).file("image[]", "b.png", "image/png", PNG).text("prompt", "x"));
        assertThat(two.status()).isEqualTo(400);
        assertThat(two.json().path("error").path("message").asText()).contains("1 input image");
    }

    @Test
    void base64AndDataUrlInATextField() {
        multipart(new Http.Multipart().text("image", B64));
        assertSourceArrived();
        multipart(new Http.Multipart().text("image", "data:image/png;base64," + B64));
        assertSourceArrived();
    }

    @Test
    void base64InsideAFilePart() {
        multipart(new Http.Multipart().file("image", "in.txt", "text/plain", B64.getBytes()));
        assertSourceArrived();
        multipart(new Http.Multipart().part("image", null, null, ("data:image/png;base64," + B64 + "\n").getBytes()));
        assertSourceArrived();
    }

    @Test
    void jsonBodies() {
        for (Object image : List.of(B64, "data:image/png;base64," + B64, List.of(B64))) {
            Http.Response r = http.postJson("/v1/images/edits", server.free, Map.of("prompt", "x", "image", image));
            assertThat(r.status()).as(r.text()).isEqualTo(200);
            assertSourceArrived();
        }
        Http.Response r = http.postJson("/v1/images/edits", server.free, Map.of("prompt", "x",
                "images", List.of(Map.of("image_url", "data:image/png;base64," + B64))));
        assertThat(r.status()).as(r.text()).isEqualTo(200);
        assertSourceArrived();
    }

    @Test
    void jpegAndWebpInputs() {
        byte[] jpeg = TestImages.jpeg(40, 32);
        multipart(new Http.Multipart().file("image", "in.jpg", "image/jpeg", jpeg));
        assertThat(last().width()).isEqualTo(40);
        byte[] webp = dev.easel.server.image.ImageEncoder.encode(new dev.easel.diffusion.image.RgbImage(32, 40, new float[32 * 40 * 3]),
                dev.easel.server.image.ImageFormat.WEBP, 90);
        multipart(new Http.Multipart().part("image", null, null, webp));
        assertThat(last().width()).isEqualTo(32);
        assertThat(last().height()).isEqualTo(40);
        // below the model's smallest side: scaled up, aspect kept
        multipart(new Http.Multipart().file("image", "small.jpg", "image/jpeg", TestImages.jpeg(40, 24)));
        assertThat(last().width()).isEqualTo(56);
        assertThat(last().height()).isEqualTo(32);
    }

    @Test
    void strengthAndExtensionsAsTextParts() {
        multipart(new Http.Multipart().file("image", "in.png", "image/png", PNG)
                .text("strength", "0.35").text("seed", "1234").text("steps", "20").text("guidance_scale", "5.5")
                .text("negative_prompt", "blurry").text("sampler", "ddim").text("n", "2"));
        GenerationRequest r = last();
        assertThat(r.strength()).isEqualTo(0.35f);
        assertThat(r.seed()).isEqualTo(1234);
        assertThat(r.steps()).isEqualTo(20);
        assertThat(r.guidanceScale()).isEqualTo(5.5f);
        assertThat(r.negativePrompt()).isEqualTo("blurry");
        assertThat(r.sampler()).isEqualTo("ddim");
        assertThat(r.imageCount()).isEqualTo(2);
    }

    @Test
    void maskAsOpenAiDefinesItTransparentIsRepainted() {
        byte[] image = TestImages.png(64, 64, 0);
        byte[] mask = TestImages.mask(64, 64, 8, 16, 24, 40);
        multipart(new Http.Multipart().file("image", "in.png", "image/png", image).file("mask", "mask.png", "image/png", mask));
        var m = last().mask().orElseThrow();
        assertThat(m.get(20, 10)).isEqualTo(1f); // inside the transparent rectangle
        assertThat(m.get(2, 2)).isEqualTo(0f);
        assertThat(m.get(50, 50)).isEqualTo(0f);
        assertThat(last().strength()).isEqualTo(1f);
    }

    @Test
    void maskMustMatchAndHaveAlpha() {
        byte[] image = TestImages.png(64, 64, 0);
        Http.Response wrongSize = http.postMultipart("/v1/images/edits", server.free, new Http.Multipart().text("prompt", "x")
                .file("image", "in.png", "image/png", image).file("mask", "m.png", "image/png", TestImages.mask(32, 32, 0, 0, 8, 8)));
        assertThat(wrongSize.status()).isEqualTo(400);
        assertThat(wrongSize.json().path("error").path("param").asText()).isEqualTo("mask");
        Http.Response noAlpha = http.postMultipart("/v1/images/edits", server.free, new Http.Multipart().text("prompt", "x")
                .file("image", "in.png", "image/png", image).file("mask", "m.png", "image/png", TestImages.png(64, 64, 0xffffff)));
        assertThat(noAlpha.status()).isEqualTo(400);
        assertThat(noAlpha.json().path("error").path("message").asText()).contains("alpha");
    }

    @Test
    void anExplicitSizeResizesTheSourceAndAutoKeepsItWithinTheModel() {
        multipart(new Http.Multipart().file("image", "in.png", "image/png", PNG).text("size", "64x64"));
        assertThat(last().width()).isEqualTo(64);
        assertThat(last().initImage().orElseThrow().width()).isEqualTo(64);
        // 2000x1000 is above the model's 1024 per side: brought down, aspect kept, multiple of 8
        multipart(new Http.Multipart().file("image", "big.png", "image/png", TestImages.png(2000, 1000, 0x102030)));
        assertThat(last().width()).isEqualTo(1024);
        assertThat(last().height()).isEqualTo(512);
    }
}
