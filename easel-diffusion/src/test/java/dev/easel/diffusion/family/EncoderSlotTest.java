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

/** An encoder loaded for each prompt and closed after it encodes as the same encoder kept loaded does. */
class EncoderSlotTest {
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
    void anOnDemandEncoderLoadsForEachPromptClosesAfterItAndEncodesAsAKeptOne() {
        Path file = RandomFlux.write(dir, "tiny", TINY_FLUX).resolveSibling(RandomFlux.T5);
        RuntimeOptions options = RuntimeOptions.defaults().withWeights(WeightMode.INT8).withPrepack(true);
        List<T5TextEncoder> loads = new ArrayList<>();
        long[] ids = {100, 200, 300, 1, 0, 0, 0, 0};
        T5TextEncoder loadedFirst = load(file, options);
        try (EncoderSlot<T5TextEncoder> kept = EncoderSlot.kept(load(file, options), 99);
             EncoderSlot<T5TextEncoder> onDemand = EncoderSlot.onDemand(loadedFirst, () -> loads.add(load(file, options)) ? loads.getLast() : null, 1234)) {
            FloatTensor reference = kept.use(t5 -> t5.encode(ids));
            assertThat(kept.use(t5 -> t5.encode(ids)).data()).containsExactly(reference.data());
            assertThat(kept.kept()).isTrue();
            assertThat(onDemand.kept()).isFalse();
            assertThat(onDemand.weightBytes()).isEqualTo(1234);
            // the first prompt uses the encoder loaded with the model, then closes it
            assertThat(onDemand.use(t5 -> t5.encode(ids)).data()).containsExactly(reference.data());
            assertThat(loads).isEmpty();
            assertThatThrownBy(() -> loadedFirst.encode(ids)).isInstanceOf(RuntimeException.class);
            assertThat(onDemand.use(t5 -> t5.encode(ids)).data()).containsExactly(reference.data());
            assertThat(onDemand.use(t5 -> t5.encode(ids)).data()).containsExactly(reference.data());
            assertThat(loads).hasSize(2);
            // each loaded encoder was closed after its prompt: using it again fails
            for (T5TextEncoder t5 : loads) assertThatThrownBy(() -> t5.encode(ids)).isInstanceOf(RuntimeException.class);
            onDemand.close();
            assertThatThrownBy(() -> onDemand.use(t5 -> t5.encode(ids))).hasMessageContaining("closed");
        }
    }

    @Test
    void anEncoderLoadedForAPromptIsClosedWhenTheEncodingFails() {
        Path file = RandomFlux.write(dir, "tiny", TINY_FLUX).resolveSibling(RandomFlux.T5);
        RuntimeOptions options = RuntimeOptions.defaults();
        List<T5TextEncoder> loads = new ArrayList<>();
        try (EncoderSlot<T5TextEncoder> onDemand = EncoderSlot.onDemand(null, () -> loads.add(load(file, options)) ? loads.getLast() : null, 1)) {
            assertThatThrownBy(() -> onDemand.use(t5 -> t5.encode(new long[]{999_999_999L}))).isInstanceOf(RuntimeException.class);
            assertThat(loads).hasSize(1);
            assertThatThrownBy(() -> loads.getFirst().encode(new long[]{1})).isInstanceOf(RuntimeException.class);
            // the slot still works for the next prompt
            assertThat(onDemand.use(t5 -> t5.encode(new long[]{100, 1})).shape()).containsExactly(1, 2, TINY.dModel());
        }
    }

    private static T5TextEncoder load(Path file, RuntimeOptions options) {
        try (WeightSource w = SafetensorsFile.open(file)) {
            return new T5TextEncoder(TINY, w, "text_encoder_2", options);
        }
    }
}
