package dev.easel.server.catalog;

import dev.easel.server.auth.Tier;
import dev.easel.server.config.ConfigLoader;
import dev.easel.server.config.ServerConfig;
import dev.easel.server.support.Fixtures;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.Map;
import java.util.Optional;

import static org.assertj.core.api.Assertions.assertThat;

class ModelCatalogTest {
    @TempDir
    Path models;

    ModelCatalog catalog(Map<String, String> overrides) {
        Map<String, String> all = new java.util.HashMap<>(overrides);
        all.put("models-dir", models.toString());
        ServerConfig config = new ConfigLoader().load(Optional.empty(), Map.of(), all);
        return new ModelCatalog(config, Clock.systemUTC());
    }

    ModelCatalog catalog() {
        return catalog(Map.of());
    }

    @Test
    void everyCatalogModelIsListedInstalledOrNot() {
        ModelCatalog c = catalog();
        assertThat(c.all()).extracting(ModelEntry::id)
                .containsExactly("stable-diffusion-1.5", "sdxl_lightning_4step.safetensors", "flux.1-schnell", "oxlo-image-pro");
        ModelEntry sd = c.find("stable-diffusion-1.5").orElseThrow();
        assertThat(sd.installed()).isFalse();
        assertThat(sd.available()).isFalse();
        assertThat(sd.unavailable().orElseThrow()).contains("not installed");
        assertThat(sd.tier()).isEqualTo(Tier.FREE);
        assertThat(sd.defaultSize()).isEqualTo("512x512");
        assertThat(sd.steps()).isEqualTo(25);
        assertThat(c.find("sdxl_lightning_4step.safetensors").orElseThrow().tier()).isEqualTo(Tier.PRO);
        assertThat(c.find("flux.1-schnell").orElseThrow().sizeMultiple()).isEqualTo(16);
        assertThat(c.find("oxlo-image-pro").orElseThrow().tier()).isEqualTo(Tier.PREMIUM);
    }

    @Test
    void aCatalogModelIsFoundByItsIdAsFileSafetensorsOrFolder() throws IOException {
        // the id alone: a diffusers folder or a single file, whichever the fixtures hold
        Files.createSymbolicLink(models.resolve("stable-diffusion-1.5"), Fixtures.sd15Model());
        Files.createSymbolicLink(models.resolve("sdxl_lightning_4step.safetensors"), Fixtures.sdxlSingleFile());
        Files.createSymbolicLink(models.resolve("flux.1-schnell.safetensors"), Fixtures.singleFile("flux"));
        ModelCatalog c = catalog();
        assertThat(c.find("stable-diffusion-1.5").orElseThrow().installed()).isTrue();
        assertThat(c.find("stable-diffusion-1.5").orElseThrow().available()).isTrue();
        assertThat(c.find("sdxl_lightning_4step.safetensors").orElseThrow().weights()).hasValue(models.resolve("sdxl_lightning_4step.safetensors"));
        assertThat(c.find("flux.1-schnell").orElseThrow().weights()).hasValue(models.resolve("flux.1-schnell.safetensors"));
        // claimed files are not listed a second time under their own names
        assertThat(c.all()).hasSize(4);
    }

    @Test
    void otherCheckpointsAreDetectedAndServedUnderTheirFileName() throws IOException {
        Files.createSymbolicLink(models.resolve("dreamshaper_8.safetensors"), Fixtures.sd15SingleFile());
        Files.createSymbolicLink(models.resolve("my-xl.safetensors"), Fixtures.sdxlSingleFile());
        Optional<Path> folder = Fixtures.diffusersFolder("sd15");
        if (folder.isPresent()) Files.createSymbolicLink(models.resolve("sd15-folder"), folder.get());
        ModelCatalog c = catalog(Map.of("detected-model-tier", "pro"));
        ModelEntry dream = c.find("dreamshaper_8.safetensors").orElseThrow();
        assertThat(dream.family()).isEqualTo("sd15");
        assertThat(dream.catalogued()).isFalse();
        assertThat(dream.available()).isTrue();
        assertThat(dream.tier()).isEqualTo(Tier.PRO);
        assertThat(dream.defaultSize()).isEqualTo("512x512");
        assertThat(c.find("my-xl.safetensors").orElseThrow().family()).isEqualTo("sdxl");
        assertThat(c.find("my-xl.safetensors").orElseThrow().defaultSize()).isEqualTo("1024x1024");
        if (folder.isPresent()) assertThat(c.find("sd15-folder").orElseThrow().family()).isEqualTo("sd15");
    }

    @Test
    void unsupportedOrBrokenCheckpointsAreListedWithTheReason() throws IOException {
        Files.write(models.resolve("old.ckpt"), new byte[]{1, 2, 3});
        Files.write(models.resolve("broken.safetensors"), new byte[]{9, 9, 9});
        Files.write(models.resolve("README.txt"), "not a model".getBytes());
        Files.createDirectories(models.resolve("just-a-folder"));
        ModelCatalog c = catalog();
        ModelEntry ckpt = c.find("old.ckpt").orElseThrow();
        assertThat(ckpt.available()).isFalse();
        assertThat(ckpt.unavailable().orElseThrow()).contains("pickle").doesNotContain(models.toString());
        ModelEntry broken = c.find("broken.safetensors").orElseThrow();
        assertThat(broken.available()).isFalse();
        assertThat(broken.unavailable().orElseThrow()).doesNotContain(models.toString());
        assertThat(c.find("README.txt")).isEmpty();
        assertThat(c.find("just-a-folder")).isEmpty();
    }

    @Test
    void aCheckpointDroppedInWhileRunningAppearsAndALoadFailureIsListedUntilTheFileChanges() throws IOException {
        ModelCatalog c = catalog();
        assertThat(c.find("late.safetensors")).isEmpty();
        Files.copy(Fixtures.sd15SingleFile(), models.resolve("late.safetensors"));
        c.refresh(true);
        ModelEntry late = c.find("late.safetensors").orElseThrow();
        assertThat(late.available()).isTrue();
        c.recordLoadFailure(late, "it did not load");
        assertThat(c.find("late.safetensors").orElseThrow().unavailable()).hasValue("it did not load");
        Files.setLastModifiedTime(models.resolve("late.safetensors"), java.nio.file.attribute.FileTime.fromMillis(System.currentTimeMillis() + 5000));
        c.refresh(true);
        assertThat(c.find("late.safetensors").orElseThrow().available()).isTrue();
    }

    @Test
    void theCatalogIsConfigurable() throws IOException {
        Files.createSymbolicLink(models.resolve("weights-v2.safetensors"), Fixtures.sd15SingleFile());
        ModelCatalog c = catalog(Map.of(
                "catalog.house-style.family", "sd15",
                "catalog.house-style.tier", "premium",
                "catalog.house-style.path", "weights-v2.safetensors",
                "catalog.house-style.size", "768x512",
                "catalog.house-style.sampler", "dpmpp_2m_karras"));
        ModelEntry m = c.find("house-style").orElseThrow();
        assertThat(m.installed()).isTrue();
        assertThat(m.tier()).isEqualTo(Tier.PREMIUM);
        assertThat(m.defaultWidth()).isEqualTo(768);
        assertThat(m.sampler()).isEqualTo("dpmpp_2m_karras");
        assertThat(c.find("weights-v2.safetensors")).as("claimed by the catalog entry").isEmpty();
    }
}
