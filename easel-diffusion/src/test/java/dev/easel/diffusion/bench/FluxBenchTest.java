package dev.easel.diffusion.bench;

import dev.easel.diffusion.family.Flux;
import dev.easel.diffusion.model.clip.ClipTextConfig;
import dev.easel.diffusion.model.flux.FluxConfig;
import dev.easel.diffusion.model.t5.T5Config;
import dev.easel.diffusion.model.vae.VaeConfig;
import dev.easel.engine.runtime.RuntimeOptions;
import dev.easel.engine.runtime.WeightMode;
import dev.easel.engine.weights.SafetensorsFile;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import java.util.Optional;

import static org.assertj.core.api.Assertions.assertThat;

/** The FLUX.1 bench and its random model, on a model of FLUX.1's layout but tiny widths (the real size only the lead runs). */
class FluxBenchTest {
    /** One double and one single block 128 wide, a one-layer T5 and CLIP, a four-level autoencoder 32 channels wide. */
    static final RandomFlux.Shapes TINY = new RandomFlux.Shapes(
            new FluxConfig(1, FluxConfig.HEAD_DIM, 1, 1, 64, 32, 32, false, FluxConfig.AXES_DIMS, FluxConfig.THETA, FluxConfig.MLP_RATIO),
            new T5Config(32, 8, 4, 64, 1, 32, T5Config.DEFAULT_MAX_DISTANCE, 32128, T5Config.DEFAULT_EPSILON, T5Config.FeedForward.GATED_GELU_TANH),
            new ClipTextConfig(49408, 32, 1, 2, 64, 77, true, 0),
            new VaeConfig(new long[]{32, 32, 32, 32}, 1, 16, false, Flux.VAE_SCALING, Flux.VAE_SHIFT));

    @TempDir
    Path cache;

    @Test
    void writesTheFourFilesAsTheyAreDistributedOnce() {
        Path transformer = RandomFlux.write(cache, "tiny", TINY);
        assertThat(transformer.getFileName().toString()).isEqualTo(RandomFlux.TRANSFORMER);
        try (SafetensorsFile f = SafetensorsFile.open(transformer)) {
            assertThat(f.info("double_blocks.0.img_attn.qkv.weight").shape()).containsExactly(3 * 128, 128);
            assertThat(f.info("single_blocks.0.linear1.weight").shape()).containsExactly(3 * 128 + 4 * 128, 128);
            assertThat(f.info("img_in.weight").dtype().name()).isEqualTo("BF16");
        }
        try (SafetensorsFile ae = SafetensorsFile.open(transformer.resolveSibling(RandomFlux.AE))) {
            assertThat(ae.names()).contains("decoder.up.0.block.0.conv1.weight", "encoder.mid.attn_1.q.weight");
            assertThat(ae.info("encoder.mid.attn_1.q.weight").shape()).containsExactly(32, 32, 1, 1);
        }
        long written = transformer.toFile().lastModified();
        assertThat(RandomFlux.write(cache, "tiny", TINY)).isEqualTo(transformer);
        assertThat(transformer.toFile().lastModified()).isEqualTo(written);
    }

    @Test
    void reportsTextEncodingStepsDecodeMemoryAndThroughput() {
        Path transformer = RandomFlux.write(cache, "tiny", TINY);
        StringWriter text = new StringWriter();
        FluxBench.run(new PipelineBench.Settings(cache, 32, 32, 2, RuntimeOptions.defaults().withWeights(WeightMode.INT8)),
                Optional.of(transformer), new PrintWriter(text));
        assertThat(text.toString()).contains("FLUX.1 32x32 (4 image + 256 text tokens), int8 weights, 2 steps", "transformer step 1:",
                "VAE decode:", "peak RSS:", "summary: int8, 32x32: transformer");
    }

    @Test
    void countsAbout69TflopPerStepAt1024() {
        double flops = FluxFlops.transformerStep(FluxConfig.schnell(), 4096, 256);
        assertThat(flops / 1e12).isBetween(68.0, 71.0);
        assertThat(FluxFlops.transformerStep(FluxConfig.schnell(), 1024, 256) / 1e12).isBetween(17.0, 19.5);
    }
}
