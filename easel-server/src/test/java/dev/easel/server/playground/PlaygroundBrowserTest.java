package dev.easel.server.playground;

import com.fasterxml.jackson.databind.JsonNode;
import dev.easel.server.catalog.DiffusionPipelineLoader;
import dev.easel.server.support.Fixtures;
import dev.easel.server.support.Http;
import dev.easel.server.support.TestImages;
import dev.easel.server.support.TestServer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.openqa.selenium.By;
import org.openqa.selenium.Dimension;
import org.openqa.selenium.Keys;
import org.openqa.selenium.Rectangle;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.interactions.Actions;
import org.openqa.selenium.support.ui.ExpectedConditions;
import org.openqa.selenium.support.ui.Select;

import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The playground at {@code /} in a headless Chromium, against a server running the SD 1.5 fixture model (and the
 * pro catalog model {@code sdxl_lightning_4step.safetensors}, never loaded here): a key entered, a streamed
 * generation (previews, then the image, whose pixels are the API's for the same request and seed), an edit with
 * a painted mask, a cancel, the 403 and 401 messages, and an admin creating a key and using it. Each state is
 * screenshotted under {@code target/playground-screenshots/}. Skipped, with the reason, when there is no Chromium.
 */
class PlaygroundBrowserTest {
    static final String SD15 = "stable-diffusion-1.5";
    static final String PRO_MODEL = "sdxl_lightning_4step.safetensors";
    static final Path NODE_PROJECT = Path.of("src/test/node");
    static final PacedPipeline.Pacing pacing = new PacedPipeline.Pacing();
    static TestServer server;
    static Http http;
    static Chromium browser;

    @BeforeAll
    static void start() {
        if (Chromium.missing().isPresent()) {
            System.err.println("PlaygroundBrowserTest is skipped: " + Chromium.missing().get());
            return;
        }
        server = TestServer.builder()
                .model(SD15, Fixtures.sd15Diffusers())
                .model(PRO_MODEL, Fixtures.sdxlSingleFile())
                .set("catalog." + PRO_MODEL + ".min-size", "64")
                .loader(PacedPipeline.loader(new DiffusionPipelineLoader(), pacing))
                .start();
        http = new Http(server.baseUrl());
        browser = Chromium.start();
    }

    @AfterAll
    static void stop() {
        if (browser != null) browser.close();
        if (server != null) server.close();
    }

    /** Every test starts on a fresh page with nothing stored in the browser. */
    @BeforeEach
    void freshPage() {
        assumeTrue(browser != null, () -> "skipped: " + Chromium.missing().orElse("the browser did not start"));
        pacing.stepMillis = 0;
        browser.driver.manage().window().setSize(new Dimension(1280, 1000));
        browser.driver.get(server.baseUrl() + "/");
        browser.jsAsync("""
                const done = arguments[arguments.length - 1];
                localStorage.clear();
                const req = indexedDB.deleteDatabase('easel-playground');
                req.onsuccess = req.onerror = req.onblocked = () => done(true);""");
        browser.driver.get(server.baseUrl() + "/");
        browser.await("the page's script", d -> "true".equals(browser.js("return document.documentElement.dataset.ready")));
    }

    // ------------------------------------------------------------------------------------------ tests

    @Test
    void generateStreamsPreviewsThenTheImageTheApiGivesForTheSameSeed() throws InterruptedException {
        pacing.stepMillis = 300;
        useKey(server.free, "free");
        type("#prompt", "a lighthouse at dusk");
        type("#steps", "6");
        fixSeed(1234);
        browser.find("#prompt").sendKeys(Keys.chord(Keys.CONTROL, Keys.ENTER));

        WebElement figure = browser.await("a preview", ExpectedConditions.presenceOfElementLocated(
                By.cssSelector("#results figure[data-index='0'][data-state='preview']")));
        assertThat(browser.find("#progress").getText()).matches("Step [1-5]/6 · about [0-9.]+ s left");
        assertThat(figure.getText()).startsWith("Preview · step ");
        browser.screenshot("01-generate-preview");
        byte[] preview = browser.bytesOf(figure.findElement(By.tagName("img")).getAttribute("src"));
        assertThat(TestImages.read(preview)).as("the preview is an image").isNotNull();

        WebElement done = awaitFinal();
        assertThat(Integer.parseInt(done.getAttribute("data-previews"))).as("previews before the final image").isBetween(1, 5);
        assertThat(browser.find("#progress").getText()).startsWith("Done: 1 image in ").endsWith("seed 1234");
        browser.screenshot("02-generate-final");
        byte[] shown = browser.bytesOf(done.findElement(By.tagName("img")).getAttribute("src"));

        Map<String, Object> request = formRequest("a lighthouse at dusk", 6, 1234);
        Http.Response api = http.postJson("/v1/images/generations", server.free, request);
        assertThat(api.status()).as(api.text()).isEqualTo(200);
        assertSamePixels(shown, Base64.getDecoder().decode(api.json().path("data").get(0).path("b64_json").asText()));

        // the history keeps it with its parameters and seed
        browser.find("#tab-history").click();
        assertThat(inHistoryEntry(WebElement::getText)).contains("a lighthouse at dusk", "1234", "64x64", SD15);
        assertThat(browser.find("#workspace").isDisplayed()).as("only the history is shown").isFalse();
        browser.screenshot("03-history");

        // "copy as code" for the entry: the same request and seed
        clickInHistoryEntry("Copy as code");
        WebElement code = browser.await("the code", ExpectedConditions.visibilityOfElementLocated(By.id("code-text")));
        assertThat(code.getDomProperty("value")).contains("/v1/images/generations", "\"seed\":1234", "\"steps\":6",
                "$EASEL_API_KEY");
        browser.find("#code [data-lang='python']").click();
        assertThat(code.getDomProperty("value")).contains("client.images.generate(", "extra_body={", "\"seed\": 1234");
        browser.find("#code [data-lang='node']").click();
        assertThat(code.getDomProperty("value")).contains("client.images.generate({", "seed: 1234");
        browser.screenshot("04-copy-as-code");
    }

    /** The curl and Node snippets of "copy as code", run as a user would run them, make the image the page shows. */
    @Test
    void copiedCodeMakesTheSameImage() throws Exception {
        useKey(server.free, "free");
        type("#prompt", "a lighthouse, \"quoted\" and 'single-quoted'");
        type("#negative", "blurry");
        type("#steps", "5");
        fixSeed(4321);
        browser.find("#run").click();
        byte[] shown = browser.bytesOf(awaitFinal().findElement(By.tagName("img")).getAttribute("src"));
        browser.find("#code summary").click();
        Path dir = Files.createDirectories(Path.of("target", "playground-snippets"));
        int ran = 0;
        if (onPath("curl") && onPath("jq") && onPath("base64")) {
            browser.find("#code [data-lang='curl']").click();
            Files.writeString(dir.resolve("snippet.sh"), browser.find("#code-text").getDomProperty("value"));
            Files.deleteIfExists(dir.resolve("image.png"));
            runIn(dir, "bash", "snippet.sh");
            assertSamePixels(shown, Files.readAllBytes(dir.resolve("image.png")));
            ran++;
        }
        Path nodeModules = NODE_PROJECT.resolve("node_modules").toAbsolutePath();
        if (onPath("node") && Files.isDirectory(nodeModules.resolve("openai"))) {
            if (!Files.exists(dir.resolve("node_modules"), java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
                Files.createSymbolicLink(dir.resolve("node_modules"), nodeModules);
            }
            browser.find("#code [data-lang='node']").click();
            Files.writeString(dir.resolve("snippet.mjs"), browser.find("#code-text").getDomProperty("value"));
            Files.deleteIfExists(dir.resolve("image-0.png"));
            runIn(dir, "node", "snippet.mjs");
            assertSamePixels(shown, Files.readAllBytes(dir.resolve("image-0.png")));
            ran++;
        }
        assumeTrue(ran > 0, "neither curl with jq nor node with the openai package (npm ci in src/test/node) is here");
    }

    @Test
    void editWithAPaintedMaskSendsOpenAisAlphaMaskAndShowsTheResultBesideTheSource() throws Exception {
        useKey(server.free, "free");
        browser.find("#tab-edit").click();
        byte[] source = TestImages.png(64, 64, 0x3366aa);
        Path file = Files.createTempFile("playground-source", ".png");
        Files.write(file, source);
        browser.find("#source-file").sendKeys(file.toAbsolutePath().toString());
        browser.await("the source image", ExpectedConditions.visibilityOfElementLocated(By.id("mask-canvas")));
        type("#prompt", "a watercolor harbor");
        type("#steps", "8");
        fixSeed(77);
        browser.js("const s = document.getElementById('strength'); s.value = '0.75'; s.dispatchEvent(new Event('input'));");

        // a brush stroke across row 20, then the eraser on its middle
        WebElement canvas = browser.find("#mask-canvas");
        browser.js("arguments[0].scrollIntoView({block: 'center'});", canvas); // offsets are from its in-view center
        new Actions(browser.driver).moveToElement(canvas, dx(canvas, 10), dy(canvas, 20)).clickAndHold()
                .moveToElement(canvas, dx(canvas, 32), dy(canvas, 20))
                .moveToElement(canvas, dx(canvas, 54), dy(canvas, 20)).release().perform();
        browser.find("label[for='tool-eraser']").click();
        new Actions(browser.driver).moveToElement(canvas, dx(canvas, 32), dy(canvas, 20)).click().perform();
        assertThat(browser.find("#mask-status").getText()).startsWith("Mask painted");
        browser.screenshot("05-edit-mask");

        browser.find("#run").click();
        WebElement done = awaitFinal();
        browser.screenshot("06-edit-result");
        Rectangle src = browser.find("#source-figure").getRect();
        Rectangle out = done.getRect();
        assertThat(out.getX()).as("the result is beside the source").isGreaterThan(src.getX() + src.getWidth() - 1);
        assertThat(Math.abs(out.getY() - src.getY())).isLessThan(20);
        byte[] shown = browser.bytesOf(done.findElement(By.tagName("img")).getAttribute("src"));

        // the mask the page sent (kept with the history entry): alpha 0 where painted, opaque elsewhere
        byte[] maskPng = Base64.getDecoder().decode(String.valueOf(browser.jsAsync("""
                const done = arguments[arguments.length - 1];
                import('/playground/store.js').then((s) => s.allResults()).then((list) => {
                  const reader = new FileReader();
                  reader.onload = () => done(reader.result.split(',')[1]);
                  reader.readAsDataURL(list[0].mask);
                }).catch((e) => done('ERROR ' + e));""")));
        BufferedImage mask = TestImages.read(maskPng);
        assertThat(mask.getColorModel().hasAlpha()).isTrue();
        assertThat(new int[]{mask.getWidth(), mask.getHeight()}).containsExactly(64, 64);
        assertThat(alpha(mask, 12, 20)).as("painted").isZero();
        assertThat(alpha(mask, 52, 20)).as("painted").isZero();
        assertThat(alpha(mask, 32, 20)).as("erased").isEqualTo(255);
        assertThat(alpha(mask, 32, 50)).as("never painted").isEqualTo(255);
        assertThat(alpha(mask, 0, 0)).as("never painted").isEqualTo(255);

        // the API, given the same image, mask and settings, answers the same pixels
        Map<String, Object> fields = formRequest("a watercolor harbor", 8, 77);
        fields.remove("size"); // the form leaves the size to the source image ("auto")
        Http.Multipart form = new Http.Multipart()
                .file("image", "source.png", "image/png", source)
                .file("mask", "mask.png", "image/png", maskPng)
                .text("strength", "0.75");
        fields.forEach((k, v) -> form.text(k, String.valueOf(v)));
        Http.Response api = http.postMultipart("/v1/images/edits", server.free, form);
        assertThat(api.status()).as(api.text()).isEqualTo(200);
        assertSamePixels(shown, Base64.getDecoder().decode(api.json().path("data").get(0).path("b64_json").asText()));
    }

    @Test
    void cancelDropsTheRequestAndTheServerStopsTheJob() {
        pacing.stepMillis = 400;
        useKey(server.free, "free");
        type("#prompt", "a very slow painting");
        type("#steps", "40");
        browser.find("#run").click();
        browser.await("a preview", ExpectedConditions.presenceOfElementLocated(
                By.cssSelector("#results figure[data-state='preview']")));
        browser.screenshot("07-cancel-running");
        PacedPipeline running = pacing.last();
        assertThat(running.lastOutcome).isEqualTo("running");

        browser.find("#cancel").click();
        browser.await("the cancelled state", ExpectedConditions.textToBePresentInElementLocated(By.id("progress"), "Cancelled"));
        assertThat(browser.find("#results figure").getAttribute("data-state")).isEqualTo("cancelled");
        assertThat(browser.find("#run").isEnabled()).isTrue();
        browser.screenshot("08-cancelled");
        long deadline = System.currentTimeMillis() + 10_000;
        while (!running.lastOutcome.equals("cancelled") && System.currentTimeMillis() < deadline) sleep(50);
        assertThat(running.lastOutcome).as("the server cancelled the job").isEqualTo("cancelled");
        assertThat(running.lastSteps.get()).as("steps run before the cancel").isLessThan(40);
    }

    @Test
    void aFreeKeyPickingAProModelSeesTheTierItNeeds() {
        useKey(server.free, "free");
        new Select(browser.find("#model")).selectByValue(PRO_MODEL);
        assertThat(new Select(browser.find("#model")).getFirstSelectedOption().getText()).contains("needs pro tier");
        assertThat(browser.find("#model-info").getText()).contains("Needs a pro tier key; this key is free tier.");
        type("#prompt", "a cabin");
        browser.find("#run").click();
        WebElement error = browser.await("the 403 message", ExpectedConditions.visibilityOfElementLocated(By.id("model-error")));
        assertThat(error.getText()).startsWith("Not allowed with this key (403): ")
                .contains("'" + PRO_MODEL + "' needs a pro tier key or higher; this key is free tier.");
        assertThat(browser.find("#model").getAttribute("aria-invalid")).isEqualTo("true");
        assertThat(browser.driver.findElements(By.cssSelector("#results figure"))).isEmpty();
        browser.screenshot("09-free-key-pro-model");
    }

    @Test
    void aBadKeySeesTheApisMessageAndIsNotKept() {
        type("#key-input", "sk-easel-this-is-not-a-key");
        browser.find("#key-use").click();
        WebElement error = browser.await("the 401 message", ExpectedConditions.visibilityOfElementLocated(By.id("key-error")));
        assertThat(error.getText()).isEqualTo("Your key was refused (401): Incorrect API key provided.");
        assertThat(browser.find("#account").isDisplayed()).isFalse();
        assertThat(browser.js("return localStorage.getItem('easel.apiKey')")).isNull();
        browser.screenshot("10-bad-key");
    }

    @Test
    void anAdminCreatesAKeyShownOnceAndUsesIt() {
        useKey(server.admin, "premium");
        browser.await("the admin tab", ExpectedConditions.visibilityOfElementLocated(By.id("tab-admin"))).click();
        type("#admin-name", "playground test");
        new Select(browser.find("#admin-tier")).selectByValue("pro");
        browser.find("#admin-create").click();
        WebElement secret = browser.await("the new key", ExpectedConditions.visibilityOfElementLocated(By.id("admin-new-key")));
        String key = secret.getText();
        assertThat(key).startsWith("sk-easel-");
        browser.await("the key's row", ExpectedConditions.textToBePresentInElementLocated(By.id("admin-keys"), "playground test"));
        browser.screenshot("11-admin-new-key");

        browser.find("#admin-new-use").click();
        browser.await("the new key in use", ExpectedConditions.textToBe(By.id("account-tier"), "pro"));
        assertThat(browser.find("#account-name").getText()).startsWith("playground test");
        assertThat(browser.find("#tab-admin").isDisplayed()).as("a pro key is no admin").isFalse();
        assertThat(browser.find("#admin-new-key").getText()).as("shown once").isEmpty();
        assertThat(browser.js("return localStorage.getItem('easel.apiKey')")).isEqualTo(key);
        type("#prompt", "a red bicycle");
        browser.find("#run").click();
        awaitFinal();
        browser.await("today's usage", ExpectedConditions.textToBePresentInElementLocated(By.id("account-usage"), "Today: 1 of 5000 images"));
        browser.screenshot("12-new-key-generated");

        JsonNode keys = http.get("/v1/admin/keys", server.admin).json().path("data");
        String id = null;
        for (JsonNode k : keys) if (k.path("name").asText().equals("playground test")) id = k.path("id").asText();
        assertThat(id).isNotNull();
        assertThat(http.get("/v1/admin/keys/" + id + "/usage", server.admin).json().path("total").path("images").asInt()).isEqualTo(1);
    }

    @Test
    void everyControlHasALabelTheKeyboardReachesThemInOrderAndThePhoneLayoutFits() {
        // keyboard only: type the key, Enter, then Tab through the top of the page
        WebElement input = browser.find("#key-input");
        input.sendKeys(server.free, Keys.ENTER);
        browser.await("the key in use", ExpectedConditions.textToBe(By.id("account-tier"), "free"));
        input.click();
        List<String> order = new ArrayList<>();
        for (int i = 0; i < 5; i++) {
            browser.driver.switchTo().activeElement().sendKeys(Keys.TAB);
            order.add(browser.driver.switchTo().activeElement().getAttribute("id"));
        }
        assertThat(order).containsExactly("key-use", "key-forget", "tab-generate", "model", "prompt");
        browser.find("#tab-generate").sendKeys(Keys.ARROW_RIGHT);
        assertThat(browser.driver.switchTo().activeElement().getAttribute("id")).isEqualTo("tab-edit");
        assertThat(browser.find("#source-area").isDisplayed()).isTrue();

        Object unlabeled = browser.js("""
                return [...document.querySelectorAll('input, select, textarea, button')]
                  .filter((e) => !e.closest('[hidden]'))
                  .filter((e) => !(e.labels && e.labels.length) && !e.getAttribute('aria-label')
                                 && !(e.tagName === 'BUTTON' && e.textContent.trim()))
                  .map((e) => e.id || e.outerHTML.slice(0, 80));""");
        assertThat((List<?>) unlabeled).as("controls without a label").isEmpty();

        browser.driver.manage().window().setSize(new Dimension(390, 844));
        browser.find("#tab-generate").click();
        sleep(300);
        Number overflow = (Number) browser.js("return document.documentElement.scrollWidth - document.documentElement.clientWidth;");
        assertThat(overflow.intValue()).as("no sideways scrolling at phone width").isLessThanOrEqualTo(0);
        browser.screenshot("13-phone-width");
    }

    /** 429 with Retry-After beside the run button, 413 beside the image, from a server with tight limits. */
    @Test
    void limitAndSizeErrorsAreShownInWordsNearTheirControl() throws Exception {
        try (TestServer tight = TestServer.builder().fakeModel(SD15)
                .set("tiers.free.images-per-day", "1")
                .set("limits.max-body-mb", "1")
                .start()) {
            browser.driver.get(tight.baseUrl() + "/");
            browser.await("the page's script", d -> "true".equals(browser.js("return document.documentElement.dataset.ready")));
            useKey(tight.free, "free");
            type("#prompt", "one a day");
            browser.find("#run").click();
            awaitFinal();
            browser.find("#run").click();
            WebElement limit = browser.await("the 429 message", ExpectedConditions.visibilityOfElementLocated(By.id("run-error")));
            assertThat(limit.getText()).startsWith("Limit reached (429): ").matches("(?s).*Try again in (\\d+ seconds?|\\d+ minutes|about \\d+ hours)\\.$");
            browser.screenshot("14-rate-limited");

            browser.find("#tab-edit").click();
            BufferedImage noise = new BufferedImage(700, 700, BufferedImage.TYPE_INT_RGB);
            java.util.Random random = new java.util.Random(1);
            for (int y = 0; y < 700; y++) for (int x = 0; x < 700; x++) noise.setRGB(x, y, random.nextInt());
            Path big = Files.createTempFile("playground-big", ".png");
            Files.write(big, TestImages.write(noise, "png"));
            assertThat(Files.size(big)).isGreaterThan(1L << 20);
            browser.find("#source-file").sendKeys(big.toAbsolutePath().toString());
            browser.await("the source image", ExpectedConditions.visibilityOfElementLocated(By.id("mask-canvas")));
            browser.find("#run").click();
            WebElement tooLarge = browser.await("the 413 message", ExpectedConditions.visibilityOfElementLocated(By.id("image-error")));
            assertThat(tooLarge.getText()).startsWith("Too large (413): ");
            browser.screenshot("15-too-large");
        }
    }

    // ------------------------------------------------------------------------------------------ helpers

    void useKey(String key, String tier) {
        type("#key-input", key);
        browser.find("#key-use").click();
        browser.await("the key in use", ExpectedConditions.textToBe(By.id("account-tier"), tier));
        browser.await("the models", ExpectedConditions.textToBePresentInElementLocated(By.id("model-info"), "Tier"));
    }

    void type(String css, String text) {
        WebElement e = browser.find(css);
        e.clear();
        e.sendKeys(text);
    }

    void fixSeed(long seed) {
        browser.find("label[for='seed-fixed']").click();
        type("#seed", Long.toString(seed));
    }

    WebElement awaitFinal() {
        return browser.await("the final image", ExpectedConditions.presenceOfElementLocated(
                By.cssSelector("#results figure[data-index='0'][data-state='final']")));
    }

    /** The request the form describes, as a plain API call (no streaming). */
    Map<String, Object> formRequest(String prompt, int steps, long seed) {
        Map<String, Object> r = new LinkedHashMap<>();
        r.put("model", new Select(browser.find("#model")).getFirstSelectedOption().getAttribute("value"));
        r.put("prompt", prompt);
        r.put("size", browser.find("#width").getDomProperty("value") + "x" + browser.find("#height").getDomProperty("value"));
        r.put("steps", steps);
        String guidance = browser.find("#guidance").getDomProperty("value");
        if (!guidance.isEmpty()) r.put("guidance_scale", Double.parseDouble(guidance));
        String sampler = new Select(browser.find("#sampler")).getFirstSelectedOption().getAttribute("value");
        if (!sampler.isEmpty()) r.put("sampler", sampler);
        r.put("seed", seed);
        return r;
    }

    /** Offsets from the canvas's center (as Selenium moves) to the middle of image pixel x or y. */
    static int dx(WebElement canvas, int x) {
        Rectangle r = canvas.getRect();
        return (int) Math.round((x + 0.5) * r.getWidth() / 64.0 - r.getWidth() / 2.0);
    }

    static int dy(WebElement canvas, int y) {
        Rectangle r = canvas.getRect();
        return (int) Math.round((y + 0.5) * r.getHeight() / 64.0 - r.getHeight() / 2.0);
    }

    static int alpha(BufferedImage image, int x, int y) {
        return image.getRGB(x, y) >>> 24;
    }

    static void assertSamePixels(byte[] shownPng, byte[] apiPng) {
        BufferedImage a = TestImages.read(shownPng);
        BufferedImage b = TestImages.read(apiPng);
        assertThat(new int[]{a.getWidth(), a.getHeight()}).containsExactly(b.getWidth(), b.getHeight());
        int differing = 0;
        for (int y = 0; y < a.getHeight(); y++) {
            for (int x = 0; x < a.getWidth(); x++) if ((a.getRGB(x, y) & 0xffffff) != (b.getRGB(x, y) & 0xffffff)) differing++;
        }
        assertThat(differing).as("pixels that differ from the API's image").isZero();
    }

    static boolean onPath(String tool) {
        for (String dir : System.getenv().getOrDefault("PATH", "").split(java.io.File.pathSeparator)) {
            if (!dir.isEmpty() && Files.isExecutable(Path.of(dir, tool))) return true;
        }
        return false;
    }

    /** Runs a snippet with the key in EASEL_API_KEY, as its note tells the user to. */
    static void runIn(Path dir, String... command) throws Exception {
        ProcessBuilder pb = new ProcessBuilder(command).directory(dir.toFile()).redirectErrorStream(true);
        pb.environment().put("EASEL_API_KEY", server.free);
        Process p = pb.start();
        boolean done = p.waitFor(120, java.util.concurrent.TimeUnit.SECONDS);
        String output = new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
        if (!done) p.destroyForcibly();
        assertThat(done).as("%s finished", String.join(" ", command)).isTrue();
        assertThat(p.exitValue()).as(output).isZero();
    }

    static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** The first history entry as the list shows it now. */
    private WebElement historyEntry() {
        return browser.await("the history entry", ExpectedConditions.presenceOfElementLocated(
                By.cssSelector("#history-list li[data-id]")));
    }

    /** Clicks a button of the first history entry. */
    private void clickInHistoryEntry(String label) throws InterruptedException {
        inHistoryEntry(entry -> {
            entry.findElement(By.xpath(".//button[text()='" + label + "']")).click();
            return null;
        });
    }

    /**
     * Applies {@code action} to the first history entry. The list is rebuilt from IndexedDB whenever a result is stored
     * and whenever it is shown, so an entry found a moment ago may have been replaced by the same entry drawn again:
     * find it afresh then.
     */
    private <T> T inHistoryEntry(java.util.function.Function<WebElement, T> action) throws InterruptedException {
        for (int attempt = 1; ; attempt++) {
            try {
                return action.apply(historyEntry());
            } catch (org.openqa.selenium.StaleElementReferenceException redrawn) {
                if (attempt == 5) throw redrawn;
                Thread.sleep(200);
            }
        }
    }
}
