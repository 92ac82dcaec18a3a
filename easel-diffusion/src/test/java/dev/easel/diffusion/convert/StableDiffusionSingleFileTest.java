package dev.easel.diffusion.convert;

import dev.easel.diffusion.family.ModelFamily;
import dev.easel.diffusion.fixtures.FixtureCase;
import dev.easel.engine.weights.SafetensorsFile;
import dev.easel.engine.weights.WeightSource;
import dev.easel.engine.weights.WeightsException;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Every SD 1.x single file of the fixtures, converted, must give exactly the weights of the diffusers folder
 * beside it: the fixtures hold the same fp16 tensors in both layouts.
 */
class StableDiffusionSingleFileTest {
    @TempDir
    Path temp;

    /** A single file of the fixtures and its family's diffusers folder, where the fixtures hold one. */
    private record Pair(String family, Path singleFile, Optional<Path> diffusers) {
    }

    /** Every SD 1.x single file of the fixtures, found by inspecting each family's single files. */
    private static List<Pair> sd15Pairs() {
        List<Pair> pairs = new ArrayList<>();
        for (String family : FixtureCase.familyNames()) {
            for (Path file : FixtureCase.singleFiles(FixtureCase.root().resolve(family))) {
                DetectedCheckpoint detected;
                try {
                    detected = CheckpointInspector.inspect(file);
                } catch (UnsupportedCheckpointException e) {
                    continue; // e.g. a standalone VAE
                }
                if (detected.family() == ModelFamily.SD15) pairs.add(new Pair(family, file, FixtureCase.diffusersFolder(family)));
            }
        }
        assumeTrue(!pairs.isEmpty(), "no SD 1.x single file in " + FixtureCase.root());
        return pairs;
    }

    @TestFactory
    List<DynamicTest> convertedComponentsEqualTheDiffusersComponents() {
        List<DynamicTest> tests = new ArrayList<>();
        for (Pair pair : sd15Pairs()) {
            Map<String, java.util.function.Function<StableDiffusionSingleFile, WeightSource>> components = new LinkedHashMap<>();
            components.put("unet", StableDiffusionSingleFile::unet);
            components.put("vae", StableDiffusionSingleFile::vae);
            components.put("text_encoder", StableDiffusionSingleFile::textEncoder);
            components.forEach((component, pick) -> tests.add(DynamicTest.dynamicTest(
                    pair.family() + "/" + pair.singleFile().getFileName() + " " + component, () -> {
                        assumeTrue(pair.diffusers().isPresent(), "no " + pair.family() + " diffusers folder in " + FixtureCase.root());
                        DiffusersFolder folder = DiffusersFolder.open(pair.diffusers().orElseThrow());
                        try (StableDiffusionSingleFile single = StableDiffusionSingleFile.open(pair.singleFile());
                             WeightSource expected = folder.weights(component)) {
                            ConvertFixtures.assertSameWeights(pick.apply(single), expected);
                        }
                    })));
        }
        return tests;
    }

    @Test
    void vaeAttentionProjectionsBecomeLinearWeights() {
        Pair pair = sd15Pairs().getFirst();
        try (StableDiffusionSingleFile single = StableDiffusionSingleFile.open(pair.singleFile())) {
            WeightSource vae = single.vae();
            long[] q = vae.info("encoder.mid_block.attentions.0.to_q.weight").shape();
            assertThat(q).hasSize(2);
            assertThat(q[0]).isEqualTo(q[1]);
            assertThat(vae.info("decoder.mid_block.attentions.0.to_out.0.weight").rank()).isEqualTo(2);
            // the UNet's transformer projections stay 1x1 convolutions in SD 1.x
            assertThat(single.unet().info("down_blocks.0.attentions.0.proj_in.weight").rank()).isEqualTo(4);
            // non-weights are in no component
            assertThat(single.textEncoder().names()).noneMatch(n -> n.endsWith("position_ids"));
        }
    }

    @Test
    void aCheckpointOpenedByTheCallerStaysOpen() {
        Pair pair = sd15Pairs().getFirst();
        try (SafetensorsFile file = SafetensorsFile.open(pair.singleFile())) {
            StableDiffusionSingleFile single = StableDiffusionSingleFile.over(file);
            single.close();
            assertThat(single.unet().float32("conv_in.bias").capacity()).isPositive();
        }
    }

    @Test
    void aCheckpointWithoutAVaeIsRejectedNamingWhatIsMissing() {
        Pair pair = sd15Pairs().getFirst();
        try (SafetensorsFile file = SafetensorsFile.open(pair.singleFile())) {
            Map<String, String> unetAndText = new LinkedHashMap<>();
            file.names().stream().filter(n -> !n.startsWith(StableDiffusionSingleFile.VAE_PREFIX)).forEach(n -> unetAndText.put(n, n));
            WeightSource withoutVae = new dev.easel.engine.weights.RenamedWeights(file, "no VAE", unetAndText, Map.of());
            assertThatThrownBy(() -> StableDiffusionSingleFile.over(withoutVae)).isInstanceOf(WeightsException.class)
                    .hasMessageContaining("VAE").hasMessageContaining("first_stage_model.")
                    .hasMessageContaining(pair.singleFile().toString());
        }
    }
}
