package dev.easel.server.hub;

import dev.easel.server.config.ConfigException;
import dev.easel.server.config.ConfigLoader;
import dev.easel.server.config.ServerConfig;
import dev.easel.server.config.ServerConfig.FileSource;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Where models come from: the catalog's sources, their checks, and the hub settings read as the ecosystem reads them. */
class HubSettingsTest {
    @TempDir
    Path dir;

    @Test
    void theDefaultCatalogNamesTheHubSourcesOfEveryModel() {
        ServerConfig c = new ConfigLoader().defaults();
        assertThat(c.catalog().get("stable-diffusion-1.5").files()).containsExactly(
                new FileSource("stable-diffusion-v1-5/stable-diffusion-v1-5", null, "v1-5-pruned-emaonly.safetensors", "stable-diffusion-1.5.safetensors"));
        assertThat(c.catalog().get("sdxl_lightning_4step.safetensors").files()).extracting(FileSource::describe)
                .containsExactly("ByteDance/SDXL-Lightning:sdxl_lightning_4step.safetensors");
        assertThat(c.catalog().get("flux.1-schnell").files()).extracting(FileSource::describe, FileSource::target).containsExactly(
                org.assertj.core.groups.Tuple.tuple("black-forest-labs/FLUX.1-schnell:flux1-schnell.safetensors", "flux1-schnell.safetensors"),
                org.assertj.core.groups.Tuple.tuple("black-forest-labs/FLUX.1-schnell:ae.safetensors", "ae.safetensors"),
                org.assertj.core.groups.Tuple.tuple("comfyanonymous/flux_text_encoders:clip_l.safetensors", "clip_l.safetensors"),
                org.assertj.core.groups.Tuple.tuple("comfyanonymous/flux_text_encoders:t5xxl_fp16.safetensors", "t5xxl_fp16.safetensors"));
        assertThat(c.catalog().get("oxlo-image-pro").files().getFirst().describe()).isEqualTo("black-forest-labs/FLUX.1-dev:flux1-dev.safetensors");
        assertThat(c.hub().pullMissing()).isFalse();
        assertThat(c.hub().endpoint()).isEmpty();
    }

    @Test
    void catalogSourcesMustLandWhereTheCatalogLooksAndStayInsideTheModelsDir() throws IOException {
        Path file = dir.resolve("easel.yaml");
        Files.writeString(file, """
                catalog:
                  my-model:
                    family: sd15
                    files:
                      - repo: someone/something
                        path: weights/model.safetensors
                """);
        assertThatThrownBy(() -> new ConfigLoader().load(Optional.of(file), Map.of(), Map.of()))
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining("catalog.my-model.files: none of them is where the catalog finds the model");
        Files.writeString(file, """
                catalog:
                  my-model:
                    family: sd15
                    files:
                      - repo: someone/something
                        path: model.safetensors
                        as: ../my-model.safetensors
                """);
        assertThatThrownBy(() -> new ConfigLoader().load(Optional.of(file), Map.of(), Map.of()))
                .hasMessageContaining("catalog.my-model.files[0].as must be a path inside the models dir");
        Files.writeString(file, """
                catalog:
                  my-model:
                    family: sd15
                    files:
                      - repo: someone/something
                        revision: v2
                        path: weights/model.safetensors
                        as: my-model.safetensors
                """);
        FileSource f = new ConfigLoader().load(Optional.of(file), Map.of(), Map.of()).catalog().get("my-model").files().getFirst();
        assertThat(f.describe()).isEqualTo("someone/something@v2:weights/model.safetensors");
        assertThat(new ConfigLoader().load(Optional.empty(), Map.of("EASEL_HUB_PULL_MISSING", "true"), Map.of()).hub().pullMissing()).isTrue();
    }

    @Test
    void endpointAndTokenAreReadAsTheHubsOwnToolsReadThem() throws IOException {
        assertThat(HubClient.fromEnvironment("", Map.of()).endpoint()).isEqualTo("https://huggingface.co");
        assertThat(HubClient.fromEnvironment("", Map.of("HF_ENDPOINT", "http://127.0.0.1:9/")).endpoint()).isEqualTo("http://127.0.0.1:9");
        assertThat(HubClient.fromEnvironment("http://127.0.0.1:8", Map.of("HF_ENDPOINT", "http://127.0.0.1:9")).endpoint())
                .isEqualTo("http://127.0.0.1:8");
        Path token = Files.writeString(dir.resolve("token"), "hf_from_file\n");
        Path missing = dir.resolve("none");
        assertThat(HubClient.token(Map.of("HF_TOKEN", "hf_env", "HF_TOKEN_PATH", token.toString()))).hasValue("hf_env");
        assertThat(HubClient.token(Map.of("HF_TOKEN_PATH", token.toString()))).hasValue("hf_from_file");
        assertThat(HubClient.token(Map.of("HF_HOME", dir.toString()))).hasValue("hf_from_file");
        assertThat(HubClient.token(Map.of("HF_TOKEN_PATH", missing.toString()))).isEmpty();
        assertThat(new HubClient(java.net.URI.create("http://127.0.0.1:9"), Optional.empty())
                .resolveUrl("owner/a repo", "refs/pr/1", "sub dir/model.safetensors").toString())
                .isEqualTo("http://127.0.0.1:9/owner/a%20repo/resolve/refs%2Fpr%2F1/sub%20dir/model.safetensors");
    }

    @Test
    void sizesReadAsTheHubShowsThem() {
        assertThat(Bytes.format(999)).isEqualTo("999 B");
        assertThat(Bytes.format(4_265_380_512L)).isEqualTo("4.27 GB");
        assertThat(Bytes.format(23_782_506_688L)).isEqualTo("23.8 GB");
        assertThat(Bytes.format(130_000)).isEqualTo("130 kB");
    }
}
