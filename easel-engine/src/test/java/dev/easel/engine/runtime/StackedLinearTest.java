package dev.easel.engine.runtime;

import dev.easel.engine.graph.GraphBuilder;
import dev.easel.engine.graph.Value;
import dev.easel.engine.quant.BlockFormat;
import dev.easel.engine.tensor.FloatTensor;
import dev.easel.engine.weights.DerivedWeights;
import dev.easel.engine.weights.DerivedWeights.Derivation;
import dev.easel.engine.weights.DerivedWeights.Rows;
import dev.easel.engine.weights.gguf.GgufFile;
import dev.easel.engine.weights.gguf.GgufType;
import dev.easel.engine.weights.gguf.GgufWriter;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.nio.file.Path;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static dev.easel.engine.runtime.TestWeights.direct;
import static dev.easel.engine.runtime.TestWeights.gaussian;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Linear layers of one input run as one product over their stacked weights ({@link GraphBuilder#stackedLinear},
 * {@link GraphBuilder#stackedQuantizedLinear}), each weight still bound under its own name: the outputs are those of
 * the separate layers, and a fused tensor split into row ranges (BFL's qkv in a GGUF file) reaches MatMulNBits as
 * stored, byte for byte.
 */
class StackedLinearTest {
    private static final int K = 128, TOKENS = 5;
    private static final long[] OUTS = {64, 64, 96};
    private static final List<String> LAYERS = List.of("a.q", "a.k", "mlp");

    @TempDir
    Path temp;

    @ParameterizedTest(name = "{0}")
    // w8a8 has no stacks: its layers of one input share the input's quantization and stay apart (ChannelQuantizedLinearTest)
    @EnumSource(value = WeightMode.class, mode = EnumSource.Mode.EXCLUDE, names = "W8A8")
    void stackedLayersGiveTheSeparateLayersOutputs(WeightMode mode) {
        Map<String, float[]> weights = new HashMap<>();
        for (int i = 0; i < LAYERS.size(); i++) {
            weights.put(LAYERS.get(i) + ".weight", gaussian((int) OUTS[i] * K, 10 + i, 0.05));
            weights.put(LAYERS.get(i) + ".bias", gaussian((int) OUTS[i], 20 + i, 0.1));
        }
        Linears linears = mode.quantized() ? new Linears(mode, 0) : Linears.FP32;
        GraphBuilder stacked = graph(linears, true);
        GraphBuilder separate = graph(linears, false);
        assertThat(stacked.weights().keySet()).containsExactlyInAnyOrderElementsOf(separate.weights().keySet());
        assertThat(stacked.weights().get("mlp.weight")).containsExactly(96, K);
        assertThat(stacked.quantizedWeights()).isEqualTo(separate.quantizedWeights());
        Map<String, Object> in = Map.of("x", new FloatTensor(new long[]{1, TOKENS, K}, gaussian(TOKENS * K, 3, 1)));
        Map<String, FloatTensor> a = run(stacked, (name, arena) -> direct(weights.get(name)), in);
        Map<String, FloatTensor> b = run(separate, (name, arena) -> direct(weights.get(name)), in);
        for (int i = 0; i < LAYERS.size(); i++) {
            FloatTensor y = a.get("y" + i);
            assertThat(y.shape()).containsExactly(1, TOKENS, OUTS[i]);
            assertThat(relativeError(y, b.get("y" + i))).as("y%d, max|a-b|/max|b|", i).isLessThan(1e-5);
        }
    }

    @ParameterizedTest(name = "{0}")
    @EnumSource(value = GgufType.class, names = {"Q8_0", "Q4_0"})
    void aFusedGgufTensorSplitIntoRowsAndStackedAgainIsBoundAsStored(GgufType type) {
        Path file = temp.resolve("fused.gguf");
        long rows = OUTS[0] + OUTS[1] + OUTS[2];
        GgufWriter.write(file, Map.of(), List.of(
                GgufWriter.Entry.of("fused.weight", type, new long[]{rows, K}, gaussian((int) rows * K, 1, 0.05)),
                GgufWriter.Entry.of("fused.bias", GgufType.F32, new long[]{rows}, gaussian((int) rows, 2, 0.1))));
        BlockFormat format = type == GgufType.Q8_0 ? BlockFormat.INT8 : BlockFormat.INT4;
        Map<String, Object> in = Map.of("x", new FloatTensor(new long[]{1, TOKENS, K}, gaussian(TOKENS * K, 3, 1)));
        try (GgufFile gguf = GgufFile.open(file)) {
            Map<String, Derivation> split = new LinkedHashMap<>();
            long first = 0;
            for (int i = 0; i < LAYERS.size(); i++) {
                split.put(LAYERS.get(i) + ".weight", new Rows("fused.weight", first, OUTS[i]));
                split.put(LAYERS.get(i) + ".bias", new Rows("fused.bias", first, OUTS[i]));
                first += OUTS[i];
            }
            DerivedWeights rowsOf = new DerivedWeights(gguf, "split", split);
            GraphBuilder stacked = graph(new Linears(type == GgufType.Q8_0 ? WeightMode.INT8 : WeightMode.INT4, 4), true);
            GraphBuilder whole = new GraphBuilder("whole");
            Value x = whole.floatInput("x", 1, "tokens", K);
            whole.output(whole.quantizedLinear(x, "fused", K, rows, true, format, 4), "y");
            FloatTensor y = run(whole, OnnxModel.WeightProvider.of(gguf, whole), in).get("y");
            Map<String, FloatTensor> parts = run(stacked, OnnxModel.WeightProvider.of(rowsOf, stacked), in);
            // the same blocks and scales in one MatMulNBits of the same N: the same numbers, not merely close ones
            float[] expected = y.data();
            long at = 0;
            for (int i = 0; i < LAYERS.size(); i++) {
                float[] part = parts.get("y" + i).data();
                for (int t = 0; t < TOKENS; t++) {
                    for (int n = 0; n < OUTS[i]; n++) {
                        assertThat(part[(int) (t * OUTS[i] + n)]).as("y%d[%d, %d]", i, t, n).isEqualTo(expected[(int) (t * rows + at + n)]);
                    }
                }
                at += OUTS[i];
            }
        }
    }

    @Test
    void aStackedWeightIsNeverAlsoBoundAloneOrInAnotherStack() {
        GraphBuilder g = new GraphBuilder("g");
        g.stackedWeight(List.of("a.weight", "b.weight"), List.of(new long[]{2, K}, new long[]{3, K}));
        assertThat(g.stacks()).containsExactly(Map.entry("a.weight+b.weight", List.of("a.weight", "b.weight")));
        assertThat(g.weights().get("b.weight")).containsExactly(3, K);
        assertThatThrownBy(() -> g.weight("a.weight", 2, K)).hasMessageContaining("a.weight");
        assertThatThrownBy(() -> g.quantizedWeight("b.weight", 3, K, BlockFormat.INT8)).hasMessageContaining("b.weight");
        assertThatThrownBy(() -> g.stackedWeight(List.of("b.weight", "c.weight"), List.of(new long[]{3, K}, new long[]{3, K})))
                .hasMessageContaining("b.weight");
        assertThatThrownBy(() -> g.stackedWeight(List.of("d.weight", "e.weight"), List.of(new long[]{3, K}, new long[]{3, K + 1})))
                .hasMessageContaining("differ");
    }

    /** The three layers stacked into one product, or as three separate layers; outputs y0, y1, y2. */
    private static GraphBuilder graph(Linears linears, boolean stacked) {
        GraphBuilder g = new GraphBuilder(stacked ? "stacked" : "separate");
        Value x = g.floatInput("x", 1, "tokens", K);
        Value[] ys = new Value[LAYERS.size()];
        if (stacked) {
            ys = linears.stackedLinear(g, x, LAYERS, K, OUTS, true);
        } else {
            for (int i = 0; i < LAYERS.size(); i++) ys[i] = linears.linear(g, x, LAYERS.get(i), K, OUTS[i], true);
        }
        for (int i = 0; i < ys.length; i++) g.output(ys[i], "y" + i);
        return g;
    }

    private static Map<String, FloatTensor> run(GraphBuilder g, OnnxModel.WeightProvider weights, Map<String, Object> in) {
        try (OnnxModel model = OnnxModel.create(g, weights, RuntimeOptions.defaults().withThreads(2).withPrepack(true))) {
            return model.run(in);
        }
    }

    private static double relativeError(FloatTensor a, FloatTensor b) {
        double maxRef = 0, maxErr = 0;
        for (int i = 0; i < a.data().length; i++) {
            maxRef = Math.max(maxRef, Math.abs(b.data()[i]));
            maxErr = Math.max(maxErr, Math.abs(a.data()[i] - b.data()[i]));
        }
        return maxErr / maxRef;
    }
}
