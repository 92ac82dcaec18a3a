package dev.easel.diffusion.convert;

import dev.easel.diffusion.family.ModelFamily;
import dev.easel.diffusion.fixtures.FixtureCase;
import dev.easel.engine.weights.DerivedWeights;
import dev.easel.engine.weights.RenamedWeights;
import dev.easel.engine.weights.SafetensorsFile;
import dev.easel.engine.weights.WeightSource;
import dev.easel.engine.weights.WeightsException;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Function;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Every SDXL single file of the fixtures, converted, must give exactly the weights of the diffusers folder beside
 * it (the fixtures hold the same fp16 tensors in both layouts): this checks the OpenCLIP q/k/v split and the
 * transposed text projection value by value.
 */
class StableDiffusionXLSingleFileTest {

    /** A single file of the fixtures and its family's diffusers folder, where the fixtures hold one. */
    private record Pair(String family, Path singleFile, Optional<Path> diffusers) {
    }

    /** Every SDXL single file of the fixtures, found by inspecting each family's single files. */
    private static List<Pair> sdxlPairs() {
        List<Pair> pairs = new ArrayList<>();
        for (String family : FixtureCase.familyNames()) {
            for (Path file : FixtureCase.singleFiles(FixtureCase.root().resolve(family))) {
                DetectedCheckpoint detected;
                try {
                    detected = CheckpointInspector.inspect(file);
                } catch (UnsupportedCheckpointException e) {
                    continue; // e.g. a standalone VAE
                }
                if (detected.family() == ModelFamily.SDXL) pairs.add(new Pair(family, file, FixtureCase.diffusersFolder(family)));
            }
        }
        assumeTrue(!pairs.isEmpty(), "no SDXL single file in " + FixtureCase.root());
        return pairs;
    }

    @TestFactory
    List<DynamicTest> convertedComponentsEqualTheDiffusersComponents() {
        List<DynamicTest> tests = new ArrayList<>();
        for (Pair pair : sdxlPairs()) {
            Map<String, Function<StableDiffusionXLSingleFile, WeightSource>> components = new LinkedHashMap<>();
            components.put("unet", StableDiffusionXLSingleFile::unet);
            components.put("vae", StableDiffusionXLSingleFile::vae);
            components.put("text_encoder", StableDiffusionXLSingleFile::textEncoder);
            components.put("text_encoder_2", StableDiffusionXLSingleFile::textEncoder2);
            components.forEach((component, pick) -> tests.add(DynamicTest.dynamicTest(
                    pair.family() + "/" + pair.singleFile().getFileName() + " " + component, () -> {
                        assumeTrue(pair.diffusers().isPresent(), "no " + pair.family() + " diffusers folder in " + FixtureCase.root());
                        DiffusersFolder folder = DiffusersFolder.open(pair.diffusers().orElseThrow());
                        try (StableDiffusionXLSingleFile single = StableDiffusionXLSingleFile.open(pair.singleFile());
                             WeightSource expected = folder.weights(component)) {
                            ConvertFixtures.assertSameWeights(pick.apply(single), expected);
                        }
                    })));
        }
        return tests;
    }

    @Test
    void theFusedAttentionIsSplitIntoRowRangesAndTheProjectionTransposed() {
        Pair pair = sdxlPairs().getFirst();
        try (StableDiffusionXLSingleFile single = StableDiffusionXLSingleFile.open(pair.singleFile())) {
            DerivedWeights g = (DerivedWeights) single.textEncoder2();
            String fused = StableDiffusionXLSingleFile.TEXT_ENCODER_2_PREFIX + "transformer.resblocks.0.attn.in_proj_weight";
            long hidden = g.info("text_model.encoder.layers.0.self_attn.q_proj.weight").dim(1);
            assertThat(g.derivation("text_model.encoder.layers.0.self_attn.k_proj.weight"))
                    .isEqualTo(new DerivedWeights.Rows(fused, hidden, hidden));
            assertThat(g.derivation("text_model.encoder.layers.0.self_attn.v_proj.bias")).isEqualTo(new DerivedWeights.Rows(
                    StableDiffusionXLSingleFile.TEXT_ENCODER_2_PREFIX + "transformer.resblocks.0.attn.in_proj_bias", 2 * hidden, hidden));
            assertThat(g.derivation("text_projection.weight"))
                    .isEqualTo(new DerivedWeights.Transposed(StableDiffusionXLSingleFile.TEXT_ENCODER_2_PREFIX + "text_projection"));
            assertThat(g.names()).noneMatch(n -> n.contains("logit_scale") || n.contains("in_proj"));
        }
    }

    @Test
    void anUnknownOpenClipTensorIsNamedInTheError() {
        Pair pair = sdxlPairs().getFirst();
        try (SafetensorsFile file = SafetensorsFile.open(pair.singleFile())) {
            Map<String, String> names = new LinkedHashMap<>();
            file.names().forEach(n -> names.put(n, n));
            String odd = StableDiffusionXLSingleFile.TEXT_ENCODER_2_PREFIX + "transformer.resblocks.0.attn.extra_weight";
            names.put(odd, StableDiffusionXLSingleFile.TEXT_ENCODER_2_PREFIX + "ln_final.weight");
            WeightSource withExtra = new RenamedWeights(file, "with an extra tensor", names, Map.of());
            assertThatThrownBy(() -> StableDiffusionXLSingleFile.over(withExtra)).isInstanceOf(WeightsException.class)
                    .hasMessageContaining("transformer.resblocks.0.attn.extra_weight").hasMessageContaining("OpenCLIP");
        }
    }

    @Test
    void aCheckpointWithoutTheSecondTextEncoderIsRejectedNamingWhatIsMissing() {
        Pair pair = sdxlPairs().getFirst();
        try (SafetensorsFile file = SafetensorsFile.open(pair.singleFile())) {
            Map<String, String> names = new LinkedHashMap<>();
            file.names().stream().filter(n -> !n.startsWith(StableDiffusionXLSingleFile.TEXT_ENCODER_2_PREFIX))
                    .forEach(n -> names.put(n, n));
            WeightSource without = new RenamedWeights(file, "no CLIP-G", names, Map.of());
            assertThatThrownBy(() -> StableDiffusionXLSingleFile.over(without)).isInstanceOf(WeightsException.class)
                    .hasMessageContaining("OpenCLIP-G").hasMessageContaining("conditioner.embedders.1.model.");
        }
    }
}
