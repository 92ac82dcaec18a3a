package dev.easel.engine.runtime;

import dev.easel.engine.graph.GraphBuilder;
import dev.easel.engine.graph.Value;
import dev.easel.engine.tensor.FloatTensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

class OnnxModelTest {

    private static ByteBuffer direct(float... values) {
        ByteBuffer b = ByteBuffer.allocateDirect(values.length * 4).order(ByteOrder.nativeOrder());
        b.asFloatBuffer().put(values);
        return b;
    }

    private static final FloatTensor INPUT = new FloatTensor(new long[]{1, 1, 2, 2}, new float[]{1, 2, 3, 4});

    /**
     * Weights that graph optimisations rewrite (conv kernels, folded reshapes, fused adds) must carry the
     * bound values: binding them after optimisation once left these layers computing with zeros.
     */
    @ParameterizedTest
    @ValueSource(booleans = {true, false})
    void boundWeightsReachEveryKindOfLayer(boolean prepack) {
        GraphBuilder g = new GraphBuilder("layers");
        Value x = g.floatInput("x", "batch", 1, "height", "width");
        g.output(g.conv2d(x, "conv", 1, 1, 3, 1, 1), "conv");
        g.output(g.groupNorm(x, "norm", 1, 1, 1e-5f), "norm");
        g.output(g.add(g.mul(x, g.weight("scale", 1)), g.weight("shift", 1)), "affine");
        Map<String, ByteBuffer> weights = Map.of(
                "conv.weight", direct(0, 0, 0, 0, 2, 0, 0, 0, 0), "conv.bias", direct(1),
                "norm.weight", direct(3), "norm.bias", direct(0.5f),
                "scale", direct(3), "shift", direct(1));
        try (OnnxModel model = OnnxModel.create(g, (name, arena) -> weights.get(name), RuntimeOptions.defaults().withPrepack(prepack))) {
            Map<String, FloatTensor> out = model.run(Map.of("x", INPUT));
            assertThat(out.get("conv").data()).containsExactly(3, 5, 7, 9);
            assertThat(out.get("affine").data()).containsExactly(4, 7, 10, 13);
            // (x - 2.5) / sqrt(1.25 + eps) * 3 + 0.5
            float[] norm = out.get("norm").data();
            for (int i = 0; i < 4; i++) {
                assertThat(norm[i]).isCloseTo((float) ((i + 1 - 2.5) / Math.sqrt(1.25 + 1e-5) * 3 + 0.5), within(1e-5f));
            }
        }
    }

    @Test
    void linearUsesPyTorchWeightLayout() {
        GraphBuilder g = new GraphBuilder("linear");
        Value x = g.floatInput("x", 1, "tokens", 2);
        g.output(g.linear(x, "fc", 2, 3, true), "y");
        // W = [[1, 0], [0, 1], [1, 1]] ([out, in]), b = [0, 10, 100]
        Map<String, ByteBuffer> weights = Map.of("fc.weight", direct(1, 0, 0, 1, 1, 1), "fc.bias", direct(0, 10, 100));
        try (OnnxModel model = OnnxModel.create(g, (name, arena) -> weights.get(name), RuntimeOptions.defaults())) {
            FloatTensor y = model.runSingle(Map.of("x", new FloatTensor(new long[]{1, 2, 2}, new float[]{1, 2, 3, 4})));
            assertThat(y.shape()).containsExactly(1, 2, 3);
            assertThat(y.data()).containsExactly(1, 12, 103, 3, 14, 107);
        }
    }

    @Test
    void aWeightOfTheWrongSizeIsRejectedByName() {
        GraphBuilder g = new GraphBuilder("bad");
        Value x = g.floatInput("x", 1, 2);
        g.output(g.mul(x, g.weight("w", 1, 2)), "y");
        assertThatThrownBy(() -> OnnxModel.create(g, (name, arena) -> direct(1, 2, 3), RuntimeOptions.defaults()))
                .hasMessageContaining("weight w").hasMessageContaining("[1, 2]");
    }

    @Test
    void rmsNormLastAxisScalesEachRowByItsRootMeanSquare() {
        GraphBuilder g = new GraphBuilder("rms");
        Value x = g.floatInput("x", "rows", 2);
        g.output(g.rmsNormLastAxis(x, "norm_q.weight", 2, 1e-6f), "y");
        Map<String, ByteBuffer> weights = Map.of("norm_q.weight", direct(2, -1));
        try (OnnxModel model = OnnxModel.create(g, (name, arena) -> weights.get(name), RuntimeOptions.defaults())) {
            float[] y = model.runSingle(Map.of("x", new FloatTensor(new long[]{2, 2}, new float[]{3, 4, 0, 1}))).data();
            double first = Math.sqrt(12.5 + 1e-6);
            double second = Math.sqrt(0.5 + 1e-6);
            assertThat(y).containsExactly(new float[]{(float) (3 / first * 2), (float) (4 / first * -1),
                    0, (float) (1 / second * -1)}, within(1e-6f));
        }
    }
}
