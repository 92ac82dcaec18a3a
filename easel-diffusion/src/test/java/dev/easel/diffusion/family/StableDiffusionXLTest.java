package dev.easel.diffusion.family;

import dev.easel.diffusion.convert.StableDiffusionXLSingleFile;
import dev.easel.diffusion.fixtures.FixtureCase;
import dev.easel.diffusion.model.ComponentLoader;
import dev.easel.diffusion.model.clip.ClipTextConfig;
import dev.easel.diffusion.model.clip.ClipTextModel;
import dev.easel.diffusion.pipeline.ImagePipeline;
import dev.easel.diffusion.pipeline.ModelDefaults;
import dev.easel.diffusion.pipeline.Pipelines;
import dev.easel.engine.tensor.FloatTensor;
import dev.easel.engine.weights.RenamedWeights;
import dev.easel.engine.weights.SafetensorsFile;
import dev.easel.engine.weights.WeightSource;
import dev.easel.engine.weights.WeightsException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class StableDiffusionXLTest {
    @TempDir
    Path temp;

    @Test
    void aBaseCheckpointGetsTheBaseRecipe() {
        assertThat(StableDiffusionXL.defaultsFor(Path.of("models/sd_xl_base_1.0.safetensors")))
                .isEqualTo(new ModelDefaults(1024, 1024, 30, 5f, "euler", 0.75f));
        assertThat(StableDiffusionXL.defaultsFor(Path.of("juggernautXL_v9.safetensors"))).isEqualTo(StableDiffusionXL.BASE_DEFAULTS);
    }

    @Test
    void aLightningNameGetsLightningsRecipeWithItsStepCount() {
        assertThat(StableDiffusionXL.defaultsFor(Path.of("/models/sdxl_lightning_4step.safetensors")))
                .isEqualTo(new ModelDefaults(1024, 1024, 4, 0f, "euler", 0.75f));
        assertThat(StableDiffusionXL.defaultsFor(Path.of("sdxl_lightning_8step_unet.safetensors")).steps()).isEqualTo(8);
        assertThat(StableDiffusionXL.defaultsFor(Path.of("SDXL-Lightning-2steps")).steps()).isEqualTo(2);
        assertThat(StableDiffusionXL.defaultsFor(Path.of("my_lightning_merge.safetensors")).steps()).isEqualTo(4);
        // the 1-step model predicts x0, which this build does not run: no 1-step recipe is made from its name
        assertThat(StableDiffusionXL.defaultsFor(Path.of("sdxl_lightning_1step_x0.safetensors")).steps()).isEqualTo(4);
        assertThat(StableDiffusionXL.isLightningName(Path.of("sdxl_lightning_4step.safetensors"))).isTrue();
        assertThat(StableDiffusionXL.isLightningName(Path.of("sd_xl_base_1.0.safetensors"))).isFalse();
    }

    @Test
    void pipelinesLoadsSdxlSingleFilesWithTheirDefaults() throws Exception {
        Path lightning = Files.createSymbolicLink(temp.resolve("sdxl_lightning_4step.safetensors"), FixtureCase.requireSingleFile("sdxl"));
        try (ImagePipeline p = Pipelines.load(lightning)) {
            assertThat(p.family()).isEqualTo(ModelFamily.SDXL);
            assertThat(p.defaults()).isEqualTo(StableDiffusionXL.lightningDefaults(4));
            assertThat(p.family().sizeMultiple()).isEqualTo(8);
        }
    }

    @Test
    void pipelinesLoadsSdxlFoldersWithTheirDefaults() {
        try (ImagePipeline p = Pipelines.load(FixtureCase.requireDiffusersFolder("sdxl"))) {
            assertThat(p.family()).isEqualTo(ModelFamily.SDXL);
            assertThat(p.defaults()).isEqualTo(StableDiffusionXL.BASE_DEFAULTS);
        }
    }

    @Test
    void aMisshapenFusedAttentionIsNamedAsTheFileStoresIt() {
        Path file = FixtureCase.requireSingleFile("sdxl");
        String fused = StableDiffusionXLSingleFile.TEXT_ENCODER_2_PREFIX + "transformer.resblocks.0.attn.in_proj_weight";
        try (SafetensorsFile checkpoint = SafetensorsFile.open(file)) {
            long[] stored = checkpoint.info(fused).shape();
            Map<String, String> names = new LinkedHashMap<>();
            checkpoint.names().forEach(n -> names.put(n, n));
            // the same elements as [3D/2, 2D]: still three equal row ranges, of the wrong shape
            WeightSource damaged = new RenamedWeights(checkpoint, "damaged", names, Map.of(fused, new long[]{stored[0] / 2, stored[1] * 2}));
            WeightSource g = StableDiffusionXLSingleFile.over(damaged).textEncoder2();
            ClipTextConfig config = ClipTextConfig.infer(g.names(), n -> g.info(n).shape(), false);
            assertThatThrownBy(() -> ComponentLoader.validate("text_encoder_2", ClipTextModel.graph(config).weights(), g))
                    .isInstanceOf(WeightsException.class)
                    .hasMessageContaining("rows 0 to " + stored[0] / 6 + " of tensor '" + fused + "' (read as 'text_model.encoder.layers.0.self_attn.q_proj.weight')")
                    .hasMessageContaining("text_encoder_2 weights do not fit the model");
        }
    }

    @Test
    void featuresOfTheTwoEncodersAreConcatenatedPerToken() {
        FloatTensor a = new FloatTensor(new long[]{1, 2, 2}, new float[]{1, 2, 3, 4});
        FloatTensor b = new FloatTensor(new long[]{1, 2, 3}, new float[]{5, 6, 7, 8, 9, 10});
        FloatTensor ab = DualClipConditioner.concatFeatures(a, b);
        assertThat(ab.shape()).containsExactly(1, 2, 5);
        assertThat(ab.data()).containsExactly(1, 2, 5, 6, 7, 3, 4, 8, 9, 10);
        assertThatThrownBy(() -> DualClipConditioner.concatFeatures(a, new FloatTensor(new long[]{1, 3, 1}, new float[3])))
                .isInstanceOf(IllegalArgumentException.class);
    }
}
