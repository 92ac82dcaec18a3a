package dev.easel.diffusion.family;

import dev.easel.diffusion.fixtures.FixtureCase;
import dev.easel.diffusion.noise.RecordedNoise;
import dev.easel.diffusion.pipeline.DiffusionPipeline;
import dev.easel.diffusion.pipeline.GenerationRequest;
import dev.easel.diffusion.pipeline.PipelineTrace;
import dev.easel.diffusion.pipeline.Pipelines;
import dev.easel.diffusion.pipeline.ProgressListener;
import dev.easel.engine.runtime.RuntimeOptions;
import dev.easel.engine.runtime.WeightMode;
import dev.easel.engine.tensor.FloatTensor;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * A quantized pipeline loads its fp32 text encoders for each prompt ({@link EncoderSlot}): the first prompt with
 * those loaded with the model, later ones with encoders loaded again. Both encode as the fp32 pipeline's kept ones,
 * bit for bit.
 */
class OnDemandEncodersTest {

    /** family, and the trace stages its fp32 text encoders make (SDXL: both CLIPs and what the UNet gets; FLUX.1: CLIP-L). */
    @ParameterizedTest
    @CsvSource({"sdxl, text.", "flux, text.prompt.clip_l."})
    void aQuantizedPipelinesFp32EncodersGiveTheFp32PipelinesStagesForEveryPrompt(String family, String stagePrefix) {
        List<FixtureCase> cases = FixtureCase.all(family).stream()
                .filter(c -> c.kind().equals("txt2img") && !c.layouts().isEmpty()).toList();
        assumeTrue(!cases.isEmpty(), "no " + family + " txt2img fixture case with weights in " + FixtureCase.root());
        FixtureCase c = cases.getFirst();
        Predicate<String> stage = family.equals("sdxl")
                ? name -> name.startsWith(stagePrefix) || name.equals("model_in.encoder_hidden_states") || name.equals("model_in.text_embeds")
                : name -> name.startsWith(stagePrefix);
        Map<String, FloatTensor> fp32;
        try (DiffusionPipeline pipeline = load(c, WeightMode.FP32)) {
            fp32 = stages(pipeline, c, stage);
        }
        assertThat(fp32).as(c + ": text stages recorded").isNotEmpty();
        try (DiffusionPipeline int8 = load(c, WeightMode.INT8)) {
            for (int prompt = 0; prompt < 2; prompt++) {
                Map<String, FloatTensor> quantized = stages(int8, c, stage);
                assertThat(quantized.keySet()).as("prompt " + prompt).isEqualTo(fp32.keySet());
                for (String name : fp32.keySet()) {
                    assertThat(quantized.get(name).data()).as("prompt " + prompt + " " + name).containsExactly(fp32.get(name).data());
                }
            }
        }
    }

    private static DiffusionPipeline load(FixtureCase c, WeightMode mode) {
        DiffusionPipeline pipeline = (DiffusionPipeline) Pipelines.load(c.layouts().getFirst().files(), RuntimeOptions.defaults().withWeights(mode));
        assertThat(pipeline.weightMode()).isEqualTo(mode);
        return pipeline;
    }

    /** The chosen stages of a generation of the case's request. */
    private static Map<String, FloatTensor> stages(DiffusionPipeline pipeline, FixtureCase c, Predicate<String> stage) {
        GenerationRequest request = c.request(pipeline.defaults().sampler());
        Map<String, FloatTensor> stages = new LinkedHashMap<>();
        pipeline.generate(request, ProgressListener.NONE, new RecordedNoise(c.randomDraws()), new PipelineTrace() {
            @Override
            public void record(String name, FloatTensor value) {
                if (stage.test(name)) stages.put(name, value);
            }
        });
        return stages;
    }
}
