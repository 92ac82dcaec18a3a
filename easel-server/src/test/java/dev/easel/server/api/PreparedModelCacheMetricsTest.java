package dev.easel.server.api;

import dev.easel.engine.runtime.PreparedModelCache;
import dev.easel.server.catalog.DiffusionPipelineLoader;
import dev.easel.server.support.Fixtures;
import dev.easel.server.support.Http;
import dev.easel.server.support.TestServer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.Base64;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@code /metrics} of a server loading the tiny SD 1.5 fixture through a prepared-model cache: nothing before the
 * first request; misses, then entries and bytes once the writer behind the load is done; after a restart on the
 * same folder, hits only, and the same image.
 */
class PreparedModelCacheMetricsTest {
    private static final String MODEL = "stable-diffusion-1.5";
    private static final String PREFIX = "easel_prepared_model_cache_";
    private static final Pattern SAMPLE = Pattern.compile("^(" + PREFIX + "\\w+)(?:\\{[^}]*})? (\\S+)$", Pattern.MULTILINE);
    /** How long the writer behind the load may take to write the tiny model's entries. */
    private static final long WRITE_WAIT_MILLIS = 60_000;

    @TempDir
    Path tmp;

    /** A server as {@code easel serve} makes it: its loader goes through the cache of its cache-dir. */
    private static TestServer start(Path cacheDir) {
        PreparedModelCache cache = PreparedModelCache.open(cacheDir, 0);
        return TestServer.builder().model(MODEL, Fixtures.sd15Model()).set("cache-dir", cacheDir.toString())
                .loader(new DiffusionPipelineLoader(Optional.of(cache))).start();
    }

    /** The cache's samples in the Prometheus text, by name (counters with their _total suffix). */
    private static Map<String, Double> cacheMetrics(TestServer server) {
        Http.Response r = new Http(server.baseUrl()).get("/metrics", null);
        assertThat(r.status()).isEqualTo(200);
        Map<String, Double> samples = new HashMap<>();
        Matcher m = SAMPLE.matcher(r.text());
        while (m.find()) samples.put(m.group(1).substring(PREFIX.length()), Double.parseDouble(m.group(2)));
        assertThat(samples).as(r.text()).containsOnlyKeys("bytes", "entries", "hits_total", "misses_total", "rebuilt_total");
        return samples;
    }

    private static byte[] generate(TestServer server) {
        Http.Response r = new Http(server.baseUrl()).postJson("/v1/images/generations", server.free,
                Map.of("model", MODEL, "prompt", "a lighthouse at dusk", "steps", 2, "seed", 77, "response_format", "b64_json"));
        assertThat(r.status()).as(r.text()).isEqualTo(200);
        return Base64.getDecoder().decode(r.json().path("data").get(0).path("b64_json").asText());
    }

    /** The metrics once the entries written behind the loads are all there (polled, bounded). */
    private static Map<String, Double> afterWrites(TestServer server) throws InterruptedException {
        long deadline = System.currentTimeMillis() + WRITE_WAIT_MILLIS;
        Map<String, Double> m = cacheMetrics(server);
        while (m.get("entries") < m.get("misses_total") && System.currentTimeMillis() < deadline) {
            Thread.sleep(200);
            m = cacheMetrics(server);
        }
        return m;
    }

    @Test
    void missesThenEntriesThenHitsAfterARestartOnTheSameFolder() throws InterruptedException {
        Path cacheDir = tmp.resolve("cache");
        byte[] first;
        double entries;
        double bytes;
        try (TestServer server = start(cacheDir)) {
            Map<String, Double> idle = cacheMetrics(server);
            assertThat(idle).containsEntry("misses_total", 0.0).containsEntry("hits_total", 0.0)
                    .containsEntry("rebuilt_total", 0.0).containsEntry("entries", 0.0).containsEntry("bytes", 0.0);

            first = generate(server);
            Map<String, Double> m = afterWrites(server);
            assertThat(m.get("misses_total")).as("components prepared on the first load").isPositive();
            assertThat(m.get("hits_total")).isZero();
            // every component prepared was written (the writer behind the load finished), and the gauges read the folder
            assertThat(m.get("entries")).as(m.toString()).isEqualTo(m.get("misses_total"));
            long held = PreparedModelCache.open(cacheDir, 0).list().stream().mapToLong(PreparedModelCache.Entry::bytes).sum();
            assertThat(held).isPositive();
            assertThat(m.get("bytes")).isEqualTo((double) held);
            entries = m.get("entries");
            bytes = m.get("bytes");
        }

        try (TestServer restarted = start(cacheDir)) {
            Map<String, Double> idle = cacheMetrics(restarted);
            // counters are this server's; the gauges show what the folder holds already
            assertThat(idle).containsEntry("misses_total", 0.0).containsEntry("hits_total", 0.0)
                    .containsEntry("entries", entries).containsEntry("bytes", bytes);

            byte[] second = generate(restarted);
            Map<String, Double> m = cacheMetrics(restarted);
            assertThat(m.get("hits_total")).as("components loaded from the cache").isEqualTo(entries);
            assertThat(m).containsEntry("misses_total", 0.0).containsEntry("rebuilt_total", 0.0).containsEntry("entries", entries);
            assertThat(second).as("PNG from the prepared model vs the first server's").isEqualTo(first);
        }
    }
}
