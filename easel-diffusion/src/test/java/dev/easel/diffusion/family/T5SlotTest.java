package dev.easel.diffusion.family;

import dev.easel.diffusion.bench.RandomFlux;
import dev.easel.diffusion.model.clip.ClipTextConfig;
import dev.easel.diffusion.model.flux.FluxConfig;
import dev.easel.diffusion.model.t5.T5Config;
import dev.easel.diffusion.model.vae.VaeConfig;
import dev.easel.diffusion.model.t5.T5TextEncoder;
import dev.easel.engine.runtime.RuntimeOptions;
import dev.easel.engine.runtime.WeightMode;
import dev.easel.engine.tensor.FloatTensor;
import dev.easel.engine.weights.SafetensorsFile;
import dev.easel.engine.weights.WeightSource;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** T5 loaded for each encoding and closed after it encodes as the same T5 kept loaded does. */
class T5SlotTest {
    /** A tiny FLUX.1 of the real layout (as FluxBenchTest's): only its T5 is used here. */
    private static final RandomFlux.Shapes TINY_FLUX = new RandomFlux.Shapes(
            new FluxConfig(1, FluxConfig.HEAD_DIM, 1, 1, 64, 32, 32, false, FluxConfig.AXES_DIMS, FluxConfig.THETA, FluxConfig.MLP_RATIO),
            new T5Config(32, 8, 4, 64, 1, 32, T5Config.DEFAULT_MAX_DISTANCE, 32128, T5Config.DEFAULT_EPSILON, T5Config.FeedForward.GATED_GELU_TANH),
            new ClipTextConfig(49408, 32, 1, 2, 64, 77, true, 0),
            new VaeConfig(new long[]{32, 32, 32, 32}, 1, 16, false, Flux.VAE_SCALING, Flux.VAE_SHIFT));
    private static final T5Config TINY = TINY_FLUX.t5();

    @TempDir
    Path dir;

    @Test
    void anOnDemandT5LoadsForEachEncodingClosesAfterItAndEncodesAsAKeptOne() {
        Path file = RandomFlux.write(dir, "tiny", TINY_FLUX).resolveSibling(RandomFlux.T5);
        RuntimeOptions options = RuntimeOptions.defaults().withWeights(WeightMode.INT8).withPrepack(true);
        List<T5TextEncoder> loads = new ArrayList<>();
        long[] ids = {100, 200, 300, 1, 0, 0, 0, 0};
        try (T5Slot kept = T5Slot.kept(load(file, options));
             T5Slot onDemand = T5Slot.onDemand(() -> loads.add(load(file, options)) ? loads.getLast() : null, 1234)) {
            FloatTensor reference = kept.encode(ids);
            assertThat(kept.encode(ids).data()).containsExactly(reference.data());
            assertThat(onDemand.kept()).isFalse();
            assertThat(onDemand.weightBytes()).isEqualTo(1234);
            assertThat(onDemand.encode(ids).data()).containsExactly(reference.data());
            assertThat(onDemand.encode(ids).data()).containsExactly(reference.data());
            assertThat(loads).hasSize(2);
            // each loaded encoder was closed after its encoding: using it again fails
            for (T5TextEncoder t5 : loads) assertThatThrownBy(() -> t5.encode(ids)).isInstanceOf(RuntimeException.class);
            onDemand.close();
            assertThatThrownBy(() -> onDemand.encode(ids)).hasMessageContaining("closed");
        }
    }

    private static T5TextEncoder load(Path file, RuntimeOptions options) {
        try (WeightSource w = SafetensorsFile.open(file)) {
            return new T5TextEncoder(TINY, w, "text_encoder_2", options);
        }
    }
}
