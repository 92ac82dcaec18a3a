package dev.easel.server.playground;

import org.openqa.selenium.By;
import org.openqa.selenium.JavascriptExecutor;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;
import org.openqa.selenium.support.ui.ExpectedCondition;
import org.openqa.selenium.support.ui.WebDriverWait;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Base64;
import java.util.Map;
import java.util.Optional;

/**
 * A headless Chromium driven through chromedriver (Debian's {@code chromium} and {@code chromium-driver};
 * other paths through {@code -Deasel.chromium=} and {@code -Deasel.chromedriver=}). Both binaries are given
 * explicitly, so Selenium never looks for or downloads a browser or a driver.
 */
final class Chromium implements AutoCloseable {
    static final Path SCREENSHOTS = Path.of("target", "playground-screenshots");

    /** Selenium warns that it has no CDP bindings for this exact Chromium version; the tests use none of them. */
    private static final java.util.logging.Logger CDP_VERSION_LOG = java.util.logging.Logger.getLogger("org.openqa.selenium.devtools.CdpVersionFinder");

    static {
        CDP_VERSION_LOG.setLevel(java.util.logging.Level.SEVERE);
    }

    final ChromeDriver driver;

    private Chromium(ChromeDriver driver) {
        this.driver = driver;
    }

    /** Why the browser tests cannot run here, or empty when they can. */
    static Optional<String> missing() {
        if (!Files.isExecutable(browser())) {
            return Optional.of("no Chromium at " + browser() + ": install Debian's chromium and chromium-driver "
                    + "(.ci/run does) or set -Deasel.chromium= and -Deasel.chromedriver=");
        }
        if (!Files.isExecutable(chromedriver())) {
            return Optional.of("no chromedriver at " + chromedriver() + ": install Debian's chromium-driver "
                    + "(.ci/run does) or set -Deasel.chromedriver=");
        }
        return Optional.empty();
    }

    static Path browser() {
        return Path.of(System.getProperty("easel.chromium", "/usr/bin/chromium"));
    }

    static Path chromedriver() {
        return Path.of(System.getProperty("easel.chromedriver", "/usr/bin/chromedriver"));
    }

    static Chromium start() {
        ChromeOptions options = new ChromeOptions();
        options.setBinary(browser().toFile());
        options.addArguments("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage", "--window-size=1280,1000",
                "--lang=en-US");
        ChromeDriverService service = new ChromeDriverService.Builder()
                .usingDriverExecutable(chromedriver().toFile())
                .usingAnyFreePort()
                .build();
        ChromeDriver driver = new ChromeDriver(service, options);
        driver.manage().timeouts().scriptTimeout(Duration.ofSeconds(30));
        return new Chromium(driver);
    }

    WebElement find(String css) {
        return driver.findElement(By.cssSelector(css));
    }

    Object js(String script, Object... args) {
        return ((JavascriptExecutor) driver).executeScript(script, args);
    }

    Object jsAsync(String script, Object... args) {
        return ((JavascriptExecutor) driver).executeAsyncScript(script, args);
    }

    <T> T await(String what, ExpectedCondition<T> condition) {
        return new WebDriverWait(driver, Duration.ofSeconds(90)).withMessage(what).until(condition);
    }

    /** The bytes behind a URL the page can read (blob:, data:, same-origin), as the page sees them. */
    byte[] bytesOf(String url) {
        Object b64 = jsAsync("""
                const done = arguments[arguments.length - 1];
                fetch(arguments[0]).then((r) => r.arrayBuffer()).then((buffer) => {
                  const bytes = new Uint8Array(buffer);
                  let s = '';
                  for (let i = 0; i < bytes.length; i++) s += String.fromCharCode(bytes[i]);
                  done(btoa(s));
                }).catch((e) => done('ERROR ' + e));""", url);
        String text = String.valueOf(b64);
        if (text.startsWith("ERROR")) throw new AssertionError("the page could not read " + url + ": " + text);
        return Base64.getDecoder().decode(text);
    }

    /** Writes a screenshot of the whole page (not only what the window shows) under target/playground-screenshots. */
    Path screenshot(String name) {
        try {
            Files.createDirectories(SCREENSHOTS);
            Path file = SCREENSHOTS.resolve(name + ".png");
            Number width = (Number) js("return window.innerWidth");
            Number height = (Number) js("return document.documentElement.scrollHeight");
            Map<String, Object> shot = driver.executeCdpCommand("Page.captureScreenshot", Map.of(
                    "format", "png", "captureBeyondViewport", true,
                    "clip", Map.of("x", 0, "y", 0, "width", width, "height", height, "scale", 1)));
            Files.write(file, Base64.getDecoder().decode((String) shot.get("data")));
            return file;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @Override
    public void close() {
        driver.quit();
    }
}
