package dev.easel.server.config;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class ConfigLoaderTest {
    final ConfigLoader loader = new ConfigLoader();

    @TempDir
    Path dir;

    @Test
    void embeddedDefaultsAreComplete() {
        ServerConfig c = loader.defaults();
        assertThat(c.port()).isEqualTo(8080);
        assertThat(c.dataDir()).isEqualTo(Path.of("data"));
        assertThat(c.modelsDir()).isEqualTo(Path.of("models"));
        assertThat(c.tiers()).containsKeys("free", "pro", "premium");
        assertThat(c.tiers().get("free").maxN()).isEqualTo(4);
        assertThat(c.catalog()).containsKeys("stable-diffusion-1.5", "sdxl_lightning_4step.safetensors", "flux.1-schnell", "oxlo-image-pro");
        assertThat(c.catalog().get("sdxl_lightning_4step.safetensors").tier()).isEqualTo("pro");
        assertThat(c.catalog().get("oxlo-image-pro").guidanceScale()).isEqualTo(3.5f);
        assertThat(c.limits().maxBodyBytes()).isEqualTo(50L << 20);
        assertThat(c.queue().maxBatchImages()).isEqualTo(4);
    }

    @Test
    void aFileMergesOverTheDefaults() throws IOException {
        Path file = dir.resolve("easel.yaml");
        Files.writeString(file, """
                port: 9000
                tiers:
                  free:
                    images-per-day: 10
                catalog:
                  my-model:
                    family: sd15
                    tier: pro
                    path: custom/weights.safetensors
                  flux.1-schnell: null
                """);
        ServerConfig c = loader.load(Optional.of(file), Map.of(), Map.of());
        assertThat(c.port()).isEqualTo(9000);
        assertThat(c.tiers().get("free").imagesPerDay()).isEqualTo(10);
        assertThat(c.tiers().get("free").requestsPerMinute()).isEqualTo(10); // kept from the defaults
        assertThat(c.catalog().get("my-model").path()).isEqualTo("custom/weights.safetensors");
        assertThat(c.catalog()).doesNotContainKey("flux.1-schnell").containsKey("stable-diffusion-1.5");
    }

    @Test
    void aCatalogEntryNamesItsWeightModeAndABadOneIsRefusedByKey() throws IOException {
        Path file = dir.resolve("easel.yaml");
        Files.writeString(file, """
                catalog:
                  small-flux:
                    family: flux
                    weights: int4
                """);
        assertThat(loader.load(Optional.of(file), Map.of(), Map.of()).catalog().get("small-flux").weights()).isEqualTo("int4");
        assertThat(loader.defaults().catalog().get("flux.1-schnell").weights()).isNull();
        Files.writeString(file, """
                catalog:
                  small-flux:
                    family: flux
                    weights: q4_k
                """);
        assertThatThrownBy(() -> loader.load(Optional.of(file), Map.of(), Map.of()))
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining("catalog.small-flux.weights").hasMessageContaining("fp32, int8, int4 or w8a8");
    }

    @Test
    void environmentVariablesSetEveryKeyOutsideTheCatalog() {
        ServerConfig c = loader.load(Optional.empty(), Map.of(
                "EASEL_PORT", "7000",
                "EASEL_DATA_DIR", "/srv/easel",
                "EASEL_MODELS_DIR", "/srv/models",
                "EASEL_TIERS_PRO_REQUESTS_PER_MINUTE", "120",
                "EASEL_QUEUE_CAPACITY", "5",
                "EASEL_QUEUE_MAX_BATCH_IMAGES", "8",
                "EASEL_METRICS_ENABLED", "false",
                "UNRELATED", "x"), Map.of());
        assertThat(c.port()).isEqualTo(7000);
        assertThat(c.dataDir()).isEqualTo(Path.of("/srv/easel"));
        assertThat(c.modelsDir()).isEqualTo(Path.of("/srv/models"));
        assertThat(c.tiers().get("pro").requestsPerMinute()).isEqualTo(120);
        assertThat(c.queue().capacity()).isEqualTo(5);
        assertThat(c.queue().maxBatchImages()).isEqualTo(8);
        assertThat(c.metrics().enabled()).isFalse();
        assertThat(ConfigLoader.envName("tiers.pro.requests-per-minute")).isEqualTo("EASEL_TIERS_PRO_REQUESTS_PER_MINUTE");
    }

    @Test
    void flagsWinAndReachCatalogIdsWithDots() {
        ServerConfig c = loader.load(Optional.empty(), Map.of("EASEL_PORT", "7000"), Map.of(
                "port", "7001",
                "catalog.stable-diffusion-1.5.steps", "30",
                "catalog.stable-diffusion-1.5.tier", "pro",
                "catalog.new.model.v2.family", "sd15"));
        assertThat(c.port()).isEqualTo(7001);
        assertThat(c.catalog().get("stable-diffusion-1.5").steps()).isEqualTo(30);
        assertThat(c.catalog().get("stable-diffusion-1.5").tier()).isEqualTo("pro");
        assertThat(c.catalog().get("new.model.v2").family()).isEqualTo("sd15");
    }

    @Test
    void mistakesAreClearErrors() {
        assertThatThrownBy(() -> loader.load(Optional.empty(), Map.of(), Map.of("tiers.free.requests-per-minit", "3")))
                .isInstanceOf(ConfigException.class).hasMessageContaining("requests-per-minit");
        assertThatThrownBy(() -> loader.load(Optional.empty(), Map.of(), Map.of("port", "eighty")))
                .isInstanceOf(ConfigException.class).hasMessageContaining("port");
        assertThatThrownBy(() -> loader.load(Optional.empty(), Map.of(), Map.of("catalog.x.family", "sd15", "catalog.x.tier", "gold")))
                .isInstanceOf(ConfigException.class).hasMessageContaining("catalog.x.tier");
        assertThatThrownBy(() -> loader.load(Optional.empty(), Map.of(), Map.of("tiers.free.max-n", "11")))
                .isInstanceOf(ConfigException.class).hasMessageContaining("max-n");
        assertThatThrownBy(() -> loader.load(Optional.empty(), Map.of(), Map.of("queue.max-batch-images", "0")))
                .isInstanceOf(ConfigException.class).hasMessageContaining("queue.max-batch-images");
        assertThatThrownBy(() -> loader.load(Optional.of(dir.resolve("missing.yaml")), Map.of(), Map.of()))
                .isInstanceOf(ConfigException.class).hasMessageContaining("does not exist");
    }

    @Test
    void badYamlNamesTheFile() throws IOException {
        Path file = dir.resolve("bad.yaml");
        Files.writeString(file, "port: [1,\n");
        assertThatThrownBy(() -> loader.load(Optional.of(file), Map.of(), Map.of()))
                .isInstanceOf(ConfigException.class).hasMessageContaining("bad.yaml");
    }

    /** "off" unquoted is a YAML boolean; from a file, the environment or --set it turns the cache off. */
    @Test
    void cacheDirOffTurnsTheCacheOffHoweverItIsWritten() throws IOException {
        Path file = Files.writeString(dir.resolve("easel.yaml"), "cache-dir: off\n");
        assertThat(loader.load(Optional.of(file), Map.of(), Map.of()).preparedModelCacheDir()).isEmpty();
        assertThat(loader.load(Optional.empty(), Map.of("EASEL_CACHE_DIR", "off"), Map.of()).preparedModelCacheDir()).isEmpty();
        assertThat(loader.load(Optional.empty(), Map.of(), Map.of("cache-dir", "off")).preparedModelCacheDir()).isEmpty();
        assertThat(loader.load(Optional.empty(), Map.of(), Map.of("cache-dir", "/var/cache/easel")).preparedModelCacheDir())
                .contains(Path.of("/var/cache/easel"));
        assertThat(loader.load(Optional.empty(), Map.of(), Map.of("data-dir", "/srv/easel")).preparedModelCacheDir())
                .contains(Path.of("/srv/easel/cache"));
        assertThatThrownBy(() -> loader.load(Optional.empty(), Map.of(), Map.of("cache-dir", "true")))
                .isInstanceOf(ConfigException.class).hasMessageContaining("cache-dir");
    }
}
