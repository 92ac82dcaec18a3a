package dev.easel.diffusion.model.flux;

import dev.easel.engine.tensor.FloatTensor;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class FluxConfigTest {

    private static long parameters(FluxConfig config) {
        Map<String, long[]> weights = FluxTransformer.graph(config).weights();
        return weights.values().stream().mapToLong(FloatTensor::elementCount).sum();
    }

    /** The released models' sizes: FLUX.1-dev's transformer has 11,901,408,320 parameters; schnell lacks the guidance MLP. */
    @Test
    void thePresetsHaveTheReleasedModelsParameterCounts() {
        FluxConfig dev = FluxConfig.dev();
        assertThat(dev.hidden()).isEqualTo(3072);
        assertThat(dev.mlpHidden()).isEqualTo(12288);
        assertThat(parameters(dev)).isEqualTo(11_901_408_320L);
        long guidanceMlp = 256L * 3072 + 3072 + 3072L * 3072 + 3072;
        assertThat(parameters(FluxConfig.schnell())).isEqualTo(11_901_408_320L - guidanceMlp);
        assertThat(FluxConfig.schnell().guidanceEmbeds()).isFalse();
    }

    @Test
    void rejectsRotaryAxesThatDoNotFillTheHead() {
        assertThatThrownBy(() -> new FluxConfig(1, 128, 1, 1, 64, 32, 64, false, List.of(16, 56, 54), 10000, 4))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("[16, 56, 54]");
    }

    /** Text tokens first; image token (0, row, col) rotates channels 16..71 by row and 72..127 by column, in pairs. */
    @Test
    void ropeTablesFollowThePositions() {
        FluxConfig c = new FluxConfig(1, 128, 1, 1, 64, 32, 64, false, FluxConfig.AXES_DIMS, 10000, 4);
        FloatTensor txt = FloatTensor.zeros(2, 3);
        FloatTensor img = new FloatTensor(new long[]{1, 1, 3}, new float[]{0, 2, 5});
        FluxRope rope = FluxRope.of(c, txt, img);
        assertThat(rope.cos().shape()).containsExactly(3, 128);
        float[] cos = rope.cos().data();
        float[] sin = rope.sinSigned().data();
        for (int i = 0; i < 128; i++) {
            assertThat(cos[i]).isEqualTo(1f);
            assertThat(sin[i]).isZero();
        }
        int token = 2 * 128;
        // row axis, pair 3: angle 2 * 10000^(-6/56)
        double angle = 2 * Math.pow(10000, -6.0 / 56);
        assertThat(cos[token + 16 + 6]).isEqualTo((float) Math.cos(angle)).isEqualTo(cos[token + 16 + 7]);
        assertThat(sin[token + 16 + 6]).isEqualTo((float) -Math.sin(angle));
        assertThat(sin[token + 16 + 7]).isEqualTo((float) Math.sin(angle));
        // column axis, pair 0: angle 5
        assertThat(cos[token + 72]).isEqualTo((float) Math.cos(5));
        // index axis: position 0
        assertThat(cos[token]).isEqualTo(1f);
    }
}
