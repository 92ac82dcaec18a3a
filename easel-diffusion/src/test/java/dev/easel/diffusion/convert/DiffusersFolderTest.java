package dev.easel.diffusion.convert;

import com.fasterxml.jackson.databind.JsonNode;
import dev.easel.diffusion.fixtures.FixtureCase;
import dev.easel.engine.weights.MultiFileWeights;
import dev.easel.engine.weights.WeightSource;
import dev.easel.engine.weights.WeightsException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class DiffusersFolderTest {
    @TempDir
    Path temp;

    @Test
    void readsTheSd15FixtureFolder() {
        Path dir = FixtureCase.requireDiffusersFolder("sd15");
        DiffusersFolder folder = DiffusersFolder.open(dir);
        assertThat(folder.pipelineClass()).isEqualTo("StableDiffusionPipeline");
        assertThat(folder.components()).contains("unet", "vae", "text_encoder", "tokenizer", "scheduler")
                .doesNotContain("safety_checker", "feature_extractor", "_class_name");
        assertThat(folder.componentClass("text_encoder")).isEqualTo("CLIPTextModel");
        JsonNode unet = folder.config("unet");
        assertThat(unet).isEqualTo(FixtureCase.readJson(dir.resolve("unet/config.json")));
        assertThat(unet.get("block_out_channels").isArray()).isTrue();
        // the scheduler's config file is scheduler_config.json, not config.json
        assertThat(folder.config("scheduler")).isEqualTo(FixtureCase.readJson(dir.resolve("scheduler/scheduler_config.json")));
        assertThat(folder.config("scheduler").get("_class_name").asText()).endsWith("Scheduler");
        try (WeightSource weights = folder.weights("unet")) {
            assertThat(weights.names()).contains("conv_in.weight", "mid_block.attentions.0.proj_in.weight");
        }
        assertThatThrownBy(() -> folder.weights("safety_checker")).isInstanceOf(WeightsException.class)
                .hasMessageContaining("safety_checker").hasMessageContaining("model_index.json");
    }

    @Test
    void aFolderWithoutModelIndexIsRejected() {
        assertThatThrownBy(() -> DiffusersFolder.open(temp)).isInstanceOf(WeightsException.class)
                .hasMessageContaining(temp.toString()).hasMessageContaining("model_index.json");
    }

    private Path folderWithUnet() throws IOException {
        Files.writeString(temp.resolve("model_index.json"), """
                {"_class_name": "StableDiffusionPipeline", "unet": ["diffusers", "UNet2DConditionModel"]}""");
        Path unet = Files.createDirectories(temp.resolve("unet"));
        Files.writeString(unet.resolve("config.json"), "{\"in_channels\": 4}");
        return unet;
    }

    @Test
    void shardedWeightsAreOpenedThroughTheirIndex() throws IOException {
        Path unet = folderWithUnet();
        ConvertFixtures.craft(unet.resolve("diffusion_pytorch_model-00001-of-00002.safetensors"), Map.of("conv_in.weight", new long[]{2, 4}));
        ConvertFixtures.craft(unet.resolve("diffusion_pytorch_model-00002-of-00002.safetensors"), Map.of("conv_out.weight", new long[]{4, 2}));
        Files.writeString(unet.resolve("diffusion_pytorch_model.safetensors.index.json"), """
                {"weight_map": {"conv_in.weight": "diffusion_pytorch_model-00001-of-00002.safetensors",
                                "conv_out.weight": "diffusion_pytorch_model-00002-of-00002.safetensors"}}""");
        try (WeightSource weights = DiffusersFolder.open(temp).weights("unet")) {
            assertThat(weights).isInstanceOf(MultiFileWeights.class);
            assertThat(weights.names()).containsExactlyInAnyOrder("conv_in.weight", "conv_out.weight");
        }
    }

    @Test
    void thePlainFileIsPreferredToAVariantAndAVariantAloneIsUsed() throws IOException {
        Path unet = folderWithUnet();
        ConvertFixtures.craft(unet.resolve("diffusion_pytorch_model.fp16.safetensors"), Map.of("variant.weight", new long[]{1}));
        try (WeightSource weights = DiffusersFolder.open(temp).weights("unet")) {
            assertThat(weights.names()).containsExactly("variant.weight");
        }
        ConvertFixtures.craft(unet.resolve("diffusion_pytorch_model.safetensors"), Map.of("plain.weight", new long[]{1}));
        try (WeightSource weights = DiffusersFolder.open(temp).weights("unet")) {
            assertThat(weights.names()).containsExactly("plain.weight");
        }
    }

    @Test
    void picklesOnlyOrAmbiguousFilesAreRejectedNamingTheFolder() throws IOException {
        Path unet = folderWithUnet();
        Files.write(unet.resolve("diffusion_pytorch_model.bin"), new byte[]{1});
        DiffusersFolder folder = DiffusersFolder.open(temp);
        assertThatThrownBy(() -> folder.weights("unet")).isInstanceOf(WeightsException.class)
                .hasMessageContaining(unet.toString()).hasMessageContaining("pickle");
        Map<String, long[]> one = new LinkedHashMap<>();
        one.put("w", new long[]{1});
        ConvertFixtures.craft(unet.resolve("a.safetensors"), one);
        ConvertFixtures.craft(unet.resolve("b.safetensors"), one);
        assertThatThrownBy(() -> folder.weights("unet")).isInstanceOf(WeightsException.class)
                .hasMessageContaining("a.safetensors").hasMessageContaining("b.safetensors");
    }
}
