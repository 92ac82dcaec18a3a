package dev.easel.diffusion.model.flux;

import com.fasterxml.jackson.databind.JsonNode;
import dev.easel.diffusion.convert.BflFluxNames;
import dev.easel.diffusion.convert.CheckpointInspector;
import dev.easel.diffusion.convert.DetectedCheckpoint;
import dev.easel.diffusion.family.ModelFamily;
import dev.easel.diffusion.convert.UnsupportedCheckpointException;
import dev.easel.diffusion.fixtures.Compare;
import dev.easel.diffusion.fixtures.FixtureCase;
import dev.easel.diffusion.model.ComponentLoader;
import dev.easel.engine.runtime.RuntimeOptions;
import dev.easel.engine.tensor.FloatTensor;
import dev.easel.engine.weights.SafetensorsFile;
import dev.easel.engine.weights.WeightSource;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The FLUX.1 transformer alone, fed each recorded step's inputs, against the reference's output of that step: from
 * the diffusers folder's transformer (where its weights are kept) and from the BFL single file the case ran on.
 */
class FluxTransformerStagesTest {
    private static final double TOLERANCE = 1e-4;
    private static final String FAMILY = "flux";
    private static final String CONSTANT_INPUT = "model_in.";
    private static final String GUIDANCE = CONSTANT_INPUT + FluxDenoiser.GUIDANCE;

    @TestFactory
    List<DynamicTest> transformerOnRecordedInputs() {
        List<FixtureCase> cases = FixtureCase.all(FAMILY);
        List<DynamicTest> tests = new ArrayList<>();
        for (FixtureCase c : cases) {
            tests.add(DynamicTest.dynamicTest(c + " transformer (diffusers)", () -> fromDiffusers(c)));
            tests.add(DynamicTest.dynamicTest(c + " transformer (single file)", () -> fromSingleFile(c)));
        }
        return tests;
    }

    /** The transformer folder whose config describes this case's model: FLUX.1-dev cases name their own folder. */
    private static Path transformerDir(FixtureCase c) {
        JsonNode weights = c.manifest().path("weights");
        boolean dev = c.has(GUIDANCE);
        String dir = dev && weights.hasNonNull("diffusers_dev_dir") ? weights.get("diffusers_dev_dir").asText()
                : weights.path("diffusers_dir").asText();
        return c.dir().resolve(dir).resolve("transformer").normalize();
    }

    private void fromDiffusers(FixtureCase c) throws IOException {
        Path dir = transformerDir(c);
        assumeTrue(Files.isRegularFile(dir.resolve("config.json")), "no diffusers transformer folder " + dir + " in " + FixtureCase.root());
        FluxConfig config = FluxConfig.fromDiffusers(FixtureCase.readJson(dir.resolve("config.json")));
        assertThat(config.guidanceEmbeds()).as(c + ": guidance input recorded <=> guidance_embeds").isEqualTo(c.has(GUIDANCE));
        Optional<Path> file;
        try (Stream<Path> files = Files.list(dir)) {
            file = files.filter(p -> p.toString().endsWith(".safetensors")).findFirst();
        }
        assumeTrue(file.isPresent(), dir + " keeps no weights (pruned from the fixtures; the single file holds them)");
        try (SafetensorsFile weights = SafetensorsFile.open(file.get())) {
            assertThat(ComponentLoader.inferConfig("transformer", weights, FluxConfig::infer))
                    .as("config inferred from the diffusers weights").isEqualTo(config);
            runSteps(c, config, weights, "diffusers");
        }
    }

    private void fromSingleFile(FixtureCase c) throws IOException {
        Path file = singleFile(c);
        try (SafetensorsFile checkpoint = SafetensorsFile.open(file)) {
            WeightSource view = BflFluxNames.view(checkpoint);
            FluxConfig config = ComponentLoader.inferConfig("transformer", view, FluxConfig::infer);
            Path diffusersConfig = transformerDir(c).resolve("config.json");
            if (Files.isRegularFile(diffusersConfig)) {
                assertThat(config).as("config inferred from " + file.getFileName() + " = the diffusers config.json")
                        .isEqualTo(FluxConfig.fromDiffusers(FixtureCase.readJson(diffusersConfig)));
            }
            runSteps(c, config, view, file.getFileName().toString());
        }
    }

    /** The manifest's transformer file; else the fixtures' FLUX single file with a guidance input exactly when the case has one. */
    private static Path singleFile(FixtureCase c) {
        JsonNode named = c.manifest().path("weights").path("single_file").path("transformer");
        if (named.isTextual()) return c.dir().resolve(named.asText()).normalize();
        List<Path> matching = new ArrayList<>();
        for (Path p : FixtureCase.singleFiles(FixtureCase.root().resolve(c.family()))) {
            try {
                DetectedCheckpoint d = CheckpointInspector.inspect(p);
                if (d.family() == ModelFamily.FLUX && d.guidanceDistilled() == c.has(GUIDANCE)) matching.add(p);
            } catch (UnsupportedCheckpointException e) {
                // the VAE file, for instance
            }
        }
        assumeTrue(matching.size() == 1, c + ": no single FLUX transformer file fits the case: " + matching);
        return matching.getFirst();
    }

    /** Every recorded step: its latents and timestep, and the inputs constant over the steps (model_in.*). */
    private static void runSteps(FixtureCase c, FluxConfig config, WeightSource weights, String layout) throws IOException {
        Map<String, FloatTensor> conditioning = new HashMap<>();
        try (Stream<Path> files = Files.list(c.dir())) {
            for (String name : files.map(p -> p.getFileName().toString()).sorted().toList()) {
                if (name.startsWith(CONSTANT_INPUT) && name.endsWith(".npy")) {
                    String stem = name.substring(0, name.length() - ".npy".length());
                    conditioning.put(stem.substring(CONSTANT_INPUT.length()), c.tensor(stem));
                }
            }
        }
        double worst = 0;
        int steps = 0;
        try (FluxDenoiser denoiser = new FluxDenoiser(config, weights, RuntimeOptions.defaults())) {
            for (int k = 0; c.has("step" + k + ".model_out"); k++) {
                FloatTensor timestep = c.tensor("step" + k + ".model_in.timestep");
                for (float t : timestep.data()) assertThat(t).as("one timestep per call").isEqualTo(timestep.data()[0]);
                FloatTensor out = denoiser.predict(c.tensor("step" + k + ".model_in.hidden_states"), timestep.data()[0], conditioning);
                FloatTensor expected = c.tensor("step" + k + ".model_out");
                assertThat(out.shape()).isEqualTo(expected.shape());
                Compare.assertClose(c + " " + layout + " step" + k + ".model_out", out, expected, TOLERANCE);
                worst = Math.max(worst, Compare.relativeError(out, expected));
                steps++;
            }
        }
        assertThat(steps).as(c + " recorded steps").isPositive();
        System.out.printf("%s %s: %d steps, worst relative error %.3g%n", c, layout, steps, worst);
    }
}
