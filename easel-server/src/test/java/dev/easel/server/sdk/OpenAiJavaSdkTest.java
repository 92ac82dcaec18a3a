package dev.easel.server.sdk;

import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.core.JsonValue;
import com.openai.core.MultipartField;
import com.openai.core.http.StreamResponse;
import com.openai.errors.BadRequestException;
import com.openai.errors.InternalServerException;
import com.openai.errors.NotFoundException;
import com.openai.errors.OpenAIServiceException;
import com.openai.errors.PermissionDeniedException;
import com.openai.errors.RateLimitException;
import com.openai.errors.UnauthorizedException;
import com.openai.models.images.Image;
import com.openai.models.images.ImageEditParams;
import com.openai.models.images.ImageEditStreamEvent;
import com.openai.models.images.ImageGenStreamEvent;
import com.openai.models.images.ImageGenerateParams;
import com.openai.models.images.ImagesResponse;
import com.openai.models.models.Model;
import dev.easel.server.catalog.DiffusionPipelineLoader;
import dev.easel.server.support.Fixtures;
import dev.easel.server.support.TestImages;
import dev.easel.server.support.TestServer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The official openai-java SDK against a real server running the SD 1.5 fixture model through the whole
 * stack (Pipelines.load, ONNX Runtime, VAE decode, PNG), as a user of a hosted provider would call it.
 */
class OpenAiJavaSdkTest {
    static final String MODEL = "stable-diffusion-1.5";
    static TestServer server;
    /** A pro key kept for the rate limit test (the pro tier has 4 requests per minute here). */
    static String limitedPro;

    @BeforeAll
    static void start() {
        server = TestServer.builder()
                .model(MODEL, Fixtures.sd15Model())
                .loader(new DiffusionPipelineLoader())
                .set("limits.max-body-mb", "1")
                .set("queue.capacity", "1")
                .set("tiers.pro.requests-per-minute", "4")
                .start();
        limitedPro = server.server.keys().create("limited", dev.easel.server.auth.Tier.PRO, false).secret();
    }

    @AfterAll
    static void stop() {
        server.close();
    }

    static OpenAIClient client(String key) {
        return OpenAIOkHttpClient.builder().baseUrl(server.baseUrl() + "/v1").apiKey(key).maxRetries(0).build();
    }

    static ImageGenerateParams.Builder generation(String prompt) {
        return ImageGenerateParams.builder().model(MODEL).prompt(prompt).size("64x64");
    }

    static BufferedImage png(String b64) {
        return TestImages.read(Base64.getDecoder().decode(b64));
    }

    /** Not a flat color: the fixture model's VAE made it. */
    static void assertGenerated(BufferedImage image, int w, int h) {
        assertThat(image.getWidth()).isEqualTo(w);
        assertThat(image.getHeight()).isEqualTo(h);
        long distinct = java.util.stream.IntStream.range(0, w * h).map(i -> image.getRGB(i % w, i / w)).distinct().count();
        assertThat(distinct).isGreaterThan(10);
    }

    @Test
    void generatesBase64ImagesAndReportsTheSeed() {
        ImagesResponse r = client(server.free).images().generate(generation("a lighthouse at dusk").n(2)
                .responseFormat(ImageGenerateParams.ResponseFormat.B64_JSON)
                .putAdditionalBodyProperty("seed", JsonValue.from(1234))
                .putAdditionalBodyProperty("negative_prompt", JsonValue.from("blurry"))
                .build());
        List<Image> data = r.data().orElseThrow();
        assertThat(data).hasSize(2);
        for (Image image : data) assertGenerated(png(image.b64Json().orElseThrow()), 64, 64);
        assertThat(number(r._additionalProperties().get("seed"))).isEqualTo(1234);
        assertThat(r.created()).isPositive();
        assertThat(r.outputFormat().orElseThrow().asString()).isEqualTo("png");
    }

    @Test
    void theSameSeedMakesTheSameImage() {
        OpenAIClient c = client(server.free);
        ImageGenerateParams params = generation("a red bicycle").putAdditionalBodyProperty("seed", JsonValue.from(77)).build();
        String first = c.images().generate(params).data().orElseThrow().getFirst().b64Json().orElseThrow();
        ImagesResponse again = c.images().generate(params);
        assertThat(again.data().orElseThrow().getFirst().b64Json().orElseThrow()).isEqualTo(first);
        String other = c.images().generate(generation("a red bicycle").putAdditionalBodyProperty("seed", JsonValue.from(78)).build())
                .data().orElseThrow().getFirst().b64Json().orElseThrow();
        assertThat(other).isNotEqualTo(first);
    }

    @Test
    void generatesAUrlServedByThisServer() throws Exception {
        ImagesResponse r = client(server.free).images().generate(generation("a blue door")
                .responseFormat(ImageGenerateParams.ResponseFormat.URL).outputFormat(ImageGenerateParams.OutputFormat.JPEG).build());
        String url = r.data().orElseThrow().getFirst().url().orElseThrow();
        assertThat(url).startsWith(server.baseUrl() + "/files/images/").endsWith(".jpeg");
        HttpResponse<byte[]> fetched = HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create(url)).build(),
                HttpResponse.BodyHandlers.ofByteArray());
        assertThat(fetched.statusCode()).isEqualTo(200);
        assertThat(fetched.headers().firstValue("content-type")).hasValue("image/jpeg");
        assertThat(TestImages.read(fetched.body()).getWidth()).isEqualTo(64);
    }

    @Test
    void editsAnUploadedFileWithStrengthAsAnExtraField() {
        byte[] source = TestImages.png(64, 48, 0x336699);
        ImagesResponse r = client(server.free).images().edit(ImageEditParams.builder()
                .model(MODEL).prompt("make it a watercolor")
                .image(source)
                .putAdditionalBodyProperty("strength", JsonValue.from(0.6))
                .putAdditionalBodyProperty("seed", JsonValue.from(5))
                .build());
        BufferedImage out = png(r.data().orElseThrow().getFirst().b64Json().orElseThrow());
        assertGenerated(out, 64, 48);
        assertThat(number(r._additionalProperties().get("steps"))).isEqualTo(4);
    }

    @Test
    void editsWithAMaskAndANamedFilePart() {
        byte[] source = TestImages.png(64, 64, 0x20a040);
        byte[] mask = TestImages.mask(64, 64, 16, 16, 48, 48);
        ImagesResponse r = client(server.free).images().edit(ImageEditParams.builder()
                .model(MODEL).prompt("a window")
                .image(MultipartField.<ImageEditParams.Image>builder()
                        .value(ImageEditParams.Image.ofInputStream(new ByteArrayInputStream(source)))
                        .filename("room.png").contentType("image/png").build())
                .mask(mask)
                .putAdditionalBodyProperty("seed", JsonValue.from(9))
                .build());
        BufferedImage out = png(r.data().orElseThrow().getFirst().b64Json().orElseThrow());
        assertGenerated(out, 64, 64);
        BufferedImage in = TestImages.read(source);
        // outside the mask the source is kept (up to the VAE round trip), inside it is repainted
        assertThat(meanAbsDiff(in, out, 0, 0, 8, 8)).isLessThan(meanAbsDiff(in, out, 24, 24, 40, 40));
    }

    @Test
    void editsABase64ImageSentInsideAPart() {
        byte[] base64 = Base64.getEncoder().encode(TestImages.png(64, 64, 0x884422));
        ImagesResponse r = client(server.free).images().edit(ImageEditParams.builder()
                .model(MODEL).prompt("sunset")
                .image(MultipartField.<ImageEditParams.Image>builder()
                        .value(ImageEditParams.Image.ofInputStream(new ByteArrayInputStream(base64)))
                        .contentType("text/plain").build())
                .build());
        assertGenerated(png(r.data().orElseThrow().getFirst().b64Json().orElseThrow()), 64, 64);
    }

    @Test
    void streamsPartialImagesThenTheImage() {
        List<ImageGenStreamEvent> events = new ArrayList<>();
        try (StreamResponse<ImageGenStreamEvent> stream = client(server.free).images().generateStreaming(
                generation("a snowy forest").partialImages(2L).build())) {
            stream.stream().forEach(events::add);
        }
        assertThat(events).hasSize(3);
        assertThat(events.get(0).isGenerationPartialImage()).isTrue();
        assertThat(events.get(0).asGenerationPartialImage().partialImageIndex()).isEqualTo(0);
        assertThat(events.get(1).asGenerationPartialImage().partialImageIndex()).isEqualTo(1);
        assertThat(png(events.get(0).asGenerationPartialImage().b64Json()).getWidth()).isPositive();
        assertThat(events.get(2).isGenerationCompleted()).isTrue();
        assertGenerated(png(events.get(2).asGenerationCompleted().b64Json()), 64, 64);
        assertThat(events.get(2).asGenerationCompleted().usage().totalTokens()).isZero();
    }

    @Test
    void streamsAnEdit() {
        List<ImageEditStreamEvent> events = new ArrayList<>();
        try (StreamResponse<ImageEditStreamEvent> stream = client(server.free).images().editStreaming(ImageEditParams.builder()
                .model(MODEL).prompt("autumn").image(TestImages.png(64, 64, 0x404040)).partialImages(1L)
                .putAdditionalBodyProperty("strength", JsonValue.from(1.0)).build())) {
            stream.stream().forEach(events::add);
        }
        assertThat(events).hasSize(2);
        assertThat(events.get(0).isPartialImage()).isTrue();
        assertThat(events.get(1).isCompleted()).isTrue();
        assertGenerated(png(events.get(1).asCompleted().b64Json()), 64, 64);
    }

    @Test
    void listsTheModels() {
        List<Model> models = client(server.free).models().list().items();
        assertThat(models).extracting(Model::id).contains(MODEL, "sdxl_lightning_4step.safetensors", "flux.1-schnell", "oxlo-image-pro");
        Model sd = client(server.free).models().retrieve(MODEL);
        assertThat(sd._additionalProperties().get("installed").asBoolean()).hasValue(true);
        assertThat(sd._additionalProperties().get("tier").asString()).hasValue("free");
        assertThat(sd._additionalProperties().get("default_size").asString()).hasValue("64x64");
        Model flux = client(server.free).models().retrieve("flux.1-schnell");
        assertThat(flux._additionalProperties().get("installed").asBoolean()).hasValue(false);
    }

    @Test
    void aBadKeyIs401() {
        assertThatThrownBy(() -> client("sk-easel-nope").images().generate(generation("x").build()))
                .isInstanceOf(UnauthorizedException.class);
    }

    @Test
    void aModelAboveTheTierIs403NamingTheTier() {
        assertThatThrownBy(() -> client(server.free).images().generate(ImageGenerateParams.builder()
                .model("sdxl_lightning_4step.safetensors").prompt("x").build()))
                .isInstanceOfSatisfying(PermissionDeniedException.class, e -> {
                    assertThat(e.getMessage()).contains("pro");
                    assertThat(e.code()).hasValue("tier_required");
                });
    }

    @Test
    void anUnknownModelIs404() {
        assertThatThrownBy(() -> client(server.free).images().generate(ImageGenerateParams.builder()
                .model("dall-e-3").prompt("x").build()))
                .isInstanceOfSatisfying(NotFoundException.class, e -> assertThat(e.param()).hasValue("model"));
    }

    @Test
    void badRequestsAre400() {
        OpenAIClient c = client(server.free);
        assertThatThrownBy(() -> c.images().generate(generation("x").size("100x100").build()))
                .isInstanceOfSatisfying(BadRequestException.class, e -> assertThat(e.param()).hasValue("size"));
        assertThatThrownBy(() -> c.images().generate(generation("").build()))
                .isInstanceOfSatisfying(BadRequestException.class, e -> assertThat(e.param()).hasValue("prompt"));
        assertThatThrownBy(() -> c.images().generate(generation("x").n(11).build()))
                .isInstanceOfSatisfying(BadRequestException.class, e -> assertThat(e.param()).hasValue("n"));
        assertThatThrownBy(() -> c.images().generate(generation("x").n(0).build()))
                .isInstanceOf(BadRequestException.class);
        assertThatThrownBy(() -> c.images().edit(ImageEditParams.builder().model(MODEL).prompt("x")
                .image("GIF89a not really".getBytes(StandardCharsets.US_ASCII)).build()))
                .isInstanceOfSatisfying(BadRequestException.class, e -> assertThat(e.code()).hasValue("invalid_image"));
    }

    @Test
    void aTooLargeUploadIs413() {
        byte[] big = new byte[(1 << 20) + 1024];
        assertThatThrownBy(() -> client(server.free).images().edit(ImageEditParams.builder().model(MODEL).prompt("x")
                .image(big).build()))
                .isInstanceOfSatisfying(OpenAIServiceException.class, e -> assertThat(e.statusCode()).isEqualTo(413));
    }

    @Test
    void overTheRateLimitIs429WithRetryAfter() {
        OpenAIClient c = client(limitedPro);
        for (int i = 0; i < 4; i++) c.models().list(); // listing does not count; generations do
        int ok = 0;
        RateLimitException limited = null;
        for (int i = 0; i < 6 && limited == null; i++) {
            try {
                c.images().generate(generation("x").build());
                ok++;
            } catch (RateLimitException e) {
                limited = e;
            }
        }
        assertThat(ok).isEqualTo(4);
        assertThat(limited).isNotNull();
        assertThat(limited.headers().values("retry-after")).isNotEmpty();
    }

    @Test
    void aFullQueueIs503AtOnce() throws Exception {
        // Two long jobs: one runs, one waits and fills the queue (capacity 1). Raw sockets, closed afterwards,
        // which cancels both at their next step.
        try (Socket running = longJob(); Socket waiting = awaitRunningThen(running)) {
            awaitQueued();
            long t0 = System.nanoTime();
            assertThatThrownBy(() -> client(server.premium).images().generate(generation("x").build()))
                    .isInstanceOfSatisfying(InternalServerException.class, e -> {
                        assertThat(e.statusCode()).isEqualTo(503);
                        assertThat(e.headers().values("retry-after")).isNotEmpty();
                        assertThat(e.code()).hasValue("server_busy");
                    });
            assertThat(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0)).isLessThan(2000);
        }
        awaitIdle();
    }

    private Socket longJob() throws Exception {
        Socket s = new Socket("127.0.0.1", server.server.port());
        byte[] body = ("{\"model\":\"" + MODEL + "\",\"prompt\":\"slow\",\"size\":\"256x256\",\"steps\":150}").getBytes(StandardCharsets.UTF_8);
        String head = "POST /v1/images/generations HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + server.premium
                + "\r\nContent-Type: application/json\r\nContent-Length: " + body.length + "\r\n\r\n";
        s.getOutputStream().write(head.getBytes(StandardCharsets.UTF_8));
        s.getOutputStream().write(body);
        s.getOutputStream().flush();
        return s;
    }

    private Socket awaitRunningThen(Socket running) throws Exception {
        waitFor(() -> server.server.metrics().scrape().contains("easel_step_seconds_count{model=\"" + MODEL + "\"}")
                && queueLength() == 0 && stepsOfRunningJob() > 0);
        return longJob();
    }

    private void awaitQueued() throws Exception {
        waitFor(() -> queueLength() == 1);
    }

    private void awaitIdle() throws Exception {
        waitFor(() -> queueLength() == 0 && server.server.metrics().scrape().contains("outcome=\"cancelled\"} 2.0"));
    }

    private long stepCount = -1;

    private int stepsOfRunningJob() {
        String metrics = server.server.metrics().scrape();
        long count = metrics.lines().filter(l -> l.startsWith("easel_step_seconds_count{model=\"" + MODEL + "\"}"))
                .mapToLong(l -> (long) Double.parseDouble(l.substring(l.lastIndexOf(' ') + 1))).sum();
        if (stepCount < 0) stepCount = count;
        return (int) (count - stepCount);
    }

    private static int queueLength() {
        return server.server.metrics().scrape().lines().filter(l -> l.startsWith("easel_queue_length"))
                .mapToInt(l -> (int) Double.parseDouble(l.substring(l.lastIndexOf(' ') + 1))).sum();
    }

    static void waitFor(java.util.function.BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) throw new AssertionError("condition not met in 30 s");
            Thread.sleep(10);
        }
    }

    static double meanAbsDiff(BufferedImage a, BufferedImage b, int x0, int y0, int x1, int y1) {
        double sum = 0;
        int n = 0;
        for (int y = y0; y < y1; y++) {
            for (int x = x0; x < x1; x++) {
                int p = a.getRGB(x, y);
                int q = b.getRGB(x, y);
                for (int shift = 0; shift <= 16; shift += 8) sum += Math.abs(((p >> shift) & 0xff) - ((q >> shift) & 0xff));
                n += 3;
            }
        }
        return sum / n;
    }

    static long number(JsonValue v) {
        return ((Number) v.asNumber().orElseThrow()).longValue();
    }
}
