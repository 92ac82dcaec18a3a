package dev.easel.diffusion.convert;

import dev.easel.diffusion.family.ModelFamily;
import dev.easel.diffusion.fixtures.FixtureCase;
import dev.easel.diffusion.model.ComponentLoader;
import dev.easel.diffusion.model.flux.FluxConfig;
import dev.easel.diffusion.model.flux.FluxTransformer;
import dev.easel.engine.weights.DerivedWeights;
import dev.easel.engine.weights.RenamedWeights;
import dev.easel.engine.weights.SafetensorsFile;
import dev.easel.engine.weights.WeightSource;
import dev.easel.engine.weights.WeightsException;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The fixtures' FLUX single files (BFL layout) under diffusers names: every tensor of the file is read, the graph's
 * parameter list is exactly the view's names, the configuration inferred from them is the diffusers config.json of
 * the same model, and where the diffusers folder keeps that model's weights they are the same values.
 */
class BflFluxNamesTest {

    /**
     * A FLUX transformer single file and, where the fixtures hold one, the diffusers transformer folder of the same
     * model (the one whose config has the same guidance flag).
     */
    private record Pair(Path singleFile, Optional<Path> diffusersTransformer) {
        @Override
        public String toString() {
            return singleFile.getFileName().toString();
        }
    }

    /**
     * The fixtures' FLUX transformer single files, told apart from the VAE by their contents; the test is skipped,
     * saying so, where the fixtures hold none.
     */
    private static List<Pair> pairs() {
        List<Pair> pairs = new ArrayList<>();
        for (String name : FixtureCase.familyNames()) {
            Path family = FixtureCase.root().resolve(name);
            for (Path file : FixtureCase.singleFiles(family)) {
                DetectedCheckpoint detected;
                try {
                    detected = CheckpointInspector.inspect(file);
                } catch (UnsupportedCheckpointException e) {
                    continue;
                }
                if (detected.family() != ModelFamily.FLUX) continue;
                pairs.add(new Pair(file, transformerConfigs(family).stream()
                        .filter(dir -> FluxConfig.fromDiffusers(FixtureCase.readJson(dir.resolve("config.json"))).guidanceEmbeds()
                                == detected.guidanceDistilled())
                        .findFirst()));
            }
        }
        assumeTrue(!pairs.isEmpty(), "no FLUX transformer single file in " + FixtureCase.root());
        return pairs;
    }

    /** The family's {@code <folder>/transformer/} directories with a config.json (diffusers/, diffusers_dev/ ...). */
    private static List<Path> transformerConfigs(Path family) {
        try (Stream<Path> dirs = Files.list(family)) {
            return dirs.map(d -> d.resolve("transformer")).filter(d -> Files.isRegularFile(d.resolve("config.json"))).sorted().toList();
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    private static Optional<Path> weightsIn(Path transformerDir) throws IOException {
        try (Stream<Path> files = Files.list(transformerDir)) {
            return files.filter(p -> p.toString().endsWith(".safetensors")).findFirst();
        }
    }

    @TestFactory
    List<DynamicTest> everyTensorIsReadAndTheConfigIsTheDiffusersOne() {
        List<DynamicTest> tests = new ArrayList<>();
        for (Pair pair : pairs()) {
            tests.add(DynamicTest.dynamicTest(pair + " covers the file and the graph", () -> {
                try (SafetensorsFile file = SafetensorsFile.open(pair.singleFile())) {
                    DerivedWeights view = BflFluxNames.view(file);
                    Set<String> read = new HashSet<>();
                    view.names().forEach(n -> read.add(view.derivation(n).source()));
                    assertThat(read).as("tensors of the file that the view reads").containsExactlyInAnyOrderElementsOf(file.names());

                    FluxConfig config = ComponentLoader.inferConfig("transformer", view, FluxConfig::infer);
                    pair.diffusersTransformer().ifPresent(dir -> assertThat(config).as("the diffusers config.json")
                            .isEqualTo(FluxConfig.fromDiffusers(FixtureCase.readJson(dir.resolve("config.json")))));
                    assertThat(config.guidanceEmbeds()).isEqualTo(BflFluxNames.hasGuidance(file, ""));
                    assertThat(FluxTransformer.graph(config).weights().keySet()).as("the graph's parameters")
                            .containsExactlyInAnyOrderElementsOf(view.names());
                    ComponentLoader.validate("transformer", FluxTransformer.graph(config).weights(), view);
                }
            }));
            tests.add(DynamicTest.dynamicTest(pair + " equals the diffusers weights", () -> {
                assumeTrue(pair.diffusersTransformer().isPresent(), "no diffusers transformer of " + pair + " in " + FixtureCase.root());
                Optional<Path> diffusers = weightsIn(pair.diffusersTransformer().get());
                assumeTrue(diffusers.isPresent(), pair.diffusersTransformer().get() + " keeps no weights (pruned from the fixtures)");
                try (SafetensorsFile file = SafetensorsFile.open(pair.singleFile());
                     SafetensorsFile expected = SafetensorsFile.open(diffusers.get())) {
                    ConvertFixtures.assertSameWeights(BflFluxNames.view(file), expected);
                    assertThat(ComponentLoader.inferConfig("transformer", expected, FluxConfig::infer))
                            .isEqualTo(ComponentLoader.inferConfig("transformer", BflFluxNames.view(file), FluxConfig::infer));
                }
            }));
        }
        return tests;
    }

    /** The file's names under ComfyUI's prefix, with another component beside it, as all-in-one checkpoints are. */
    private static RenamedWeights comfyCheckpoint(SafetensorsFile file) {
        Map<String, String> names = new LinkedHashMap<>();
        file.names().forEach(n -> names.put(BflFluxNames.COMFY_PREFIX + n, n));
        names.put("vae.decoder.conv_in.weight", file.names().iterator().next());
        return new RenamedWeights(file, "all-in-one", names, Map.of());
    }

    @Test
    void theComfyUiPrefixGivesTheSameTransformer() {
        for (Pair pair : pairs()) {
            try (SafetensorsFile file = SafetensorsFile.open(pair.singleFile())) {
                RenamedWeights comfy = comfyCheckpoint(file);
                assertThat(BflFluxNames.prefixOf(comfy)).isEqualTo(BflFluxNames.COMFY_PREFIX);
                assertThat(BflFluxNames.prefixOf(file)).isEmpty();
                assertThat(BflFluxNames.hasGuidance(comfy, BflFluxNames.COMFY_PREFIX)).isEqualTo(BflFluxNames.hasGuidance(file, ""));
                ConvertFixtures.assertSameWeights(BflFluxNames.view(comfy), BflFluxNames.view(file));
            }
        }
    }

    @Test
    void theFusedRowsAreSplitAndTheFinalModulationHalvesSwapped() {
        Pair pair = pairs().getFirst();
        try (SafetensorsFile file = SafetensorsFile.open(pair.singleFile())) {
            DerivedWeights view = BflFluxNames.view(file);
            long hidden = file.info("img_in.weight").dim(0);
            assertThat(view.derivation("transformer_blocks.0.attn.add_v_proj.bias"))
                    .isEqualTo(new DerivedWeights.Rows("double_blocks.0.txt_attn.qkv.bias", 2 * hidden, hidden));
            long linear1 = file.info("single_blocks.0.linear1.weight").dim(0);
            assertThat(view.derivation("single_transformer_blocks.0.proj_mlp.weight"))
                    .isEqualTo(new DerivedWeights.Rows("single_blocks.0.linear1.weight", 3 * hidden, linear1 - 3 * hidden));
            assertThat(view.derivation("norm_out.linear.weight"))
                    .isEqualTo(DerivedWeights.RowRanges.swappedHalves("final_layer.adaLN_modulation.1.weight", 2 * hidden));
            float[] stored = floats(file, "final_layer.adaLN_modulation.1.bias");
            float[] read = floats(view, "norm_out.linear.bias");
            for (int i = 0; i < hidden; i++) {
                assertThat(read[i]).as("scale %d", i).isEqualTo(stored[(int) hidden + i]);
                assertThat(read[(int) hidden + i]).as("shift %d", i).isEqualTo(stored[i]);
            }
            assertThatThrownBy(() -> ComponentLoader.validate("transformer", Map.of("norm_out.linear.weight", new long[]{1, 1}), view))
                    .isInstanceOf(WeightsException.class).hasMessageContaining("rows " + hidden + " to " + 2 * hidden + " then 0 to "
                            + hidden + " of tensor 'final_layer.adaLN_modulation.1.weight' (read as 'norm_out.linear.weight')");
        }
    }

    private static float[] floats(WeightSource w, String name) {
        java.nio.FloatBuffer b = w.float32(name).asFloatBuffer();
        float[] out = new float[b.remaining()];
        b.get(out);
        return out;
    }

    /** One tensor of each kind: renamed as is, split into rows, reordered, a norm scale, guidance (dev files only). */
    @Test
    void aMissingTensorIsNamedAsTheFileNamesIt() {
        List<String> removed = List.of("double_blocks.0.img_attn.proj.weight", "double_blocks.0.txt_attn.qkv.bias",
                "single_blocks.0.linear1.weight", "single_blocks.0.norm.key_norm.scale", "final_layer.adaLN_modulation.1.bias",
                "img_in.bias", "guidance_in.out_layer.weight");
        int checked = 0;
        for (Pair pair : pairs()) {
            try (SafetensorsFile file = SafetensorsFile.open(pair.singleFile())) {
                for (String name : removed) {
                    if (!file.contains(name)) continue;
                    for (String prefix : List.of("", BflFluxNames.COMFY_PREFIX)) {
                        WeightSource source = prefix.isEmpty() ? file : comfyCheckpoint(file);
                        Map<String, String> names = new LinkedHashMap<>();
                        source.names().stream().filter(n -> !n.equals(prefix + name)).forEach(n -> names.put(n, n));
                        WeightSource without = new RenamedWeights(source, "without " + name, names, Map.of());
                        assertThatThrownBy(() -> BflFluxNames.view(without)).as(pair + " without " + prefix + name)
                                .isInstanceOf(WeightsException.class).hasMessageContaining("'" + prefix + name + "'")
                                .hasMessageContaining("missing");
                        checked++;
                    }
                }
            }
        }
        assertThat(checked).isGreaterThanOrEqualTo(2 * (removed.size() - 1));
    }

    @Test
    void anUnknownTensorIsNamedInTheError() {
        Pair pair = pairs().getFirst();
        try (SafetensorsFile file = SafetensorsFile.open(pair.singleFile())) {
            for (String odd : List.of("double_blocks.0.img_attn.extra.weight", "single_blocks.0.linear3.bias", "final_layer.norm.weight")) {
                Map<String, String> names = new LinkedHashMap<>();
                file.names().forEach(n -> names.put(n, n));
                names.put(odd, "img_in.bias");
                WeightSource withExtra = new RenamedWeights(file, "with an extra tensor", names, Map.of());
                assertThatThrownBy(() -> BflFluxNames.view(withExtra)).isInstanceOf(WeightsException.class)
                        .hasMessageContaining("'" + odd + "'").hasMessageContaining("FLUX");
            }
        }
    }
}
