package dev.easel.engine.runtime;

import dev.easel.engine.graph.GraphBuilder;
import dev.easel.engine.graph.Value;
import dev.easel.engine.quant.ChannelQuantizedWeight;
import dev.easel.engine.tensor.FloatTensor;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static dev.easel.engine.runtime.TestWeights.direct;
import static dev.easel.engine.runtime.TestWeights.gaussian;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * w8a8 linear layers: int8 weights with one scale per output channel, activations quantized to int8 per row, through
 * ONNX Runtime's integer GEMM. Each output is compared with the same arithmetic done here in exact integers: the row's
 * step {@code max|row| / 127}, {@code q = rint(x / step)}, {@code y = step x scale[n] x sum of q x w_int[n] + bias},
 * to fp32 rounding, allowing one activation to round the other way at a tie (float division differences).
 * Without the row quantization, or with a wrong scale, zero point or transpose, outputs miss by far more.
 */
class ChannelQuantizedLinearTest {
    private static final int K = 96, TOKENS = 5;

    @org.junit.jupiter.api.BeforeAll
    static void needsAnExactIntegerGemm() {
        org.junit.jupiter.api.Assumptions.assumeTrue(CpuFeatures.integerDotProduct(),
                "w8a8 needs VNNI or AMX on x86 (ONNX Runtime's int8 GEMM saturates without them); this CPU has neither");
    }

    @Test
    void theQuantizerKeepsEveryValueWithinHalfAStepOfItsRowsScaleAndStoresItTransposed() {
        int rows = 70, columns = 40; // more rows than one tile, so the transposed writes of two tiles meet
        float[] w = gaussian(rows * columns, 1, 0.05);
        for (int c = 0; c < columns; c++) w[3 * columns + c] = 0; // an all-zero row
        try (Arena arena = Arena.ofConfined()) {
            ChannelQuantizedWeight q = ChannelQuantizedWeight.quantize(w, rows, columns, arena);
            float[] held = q.dequantize();
            for (int r = 0; r < rows; r++) {
                float amax = 0;
                for (int c = 0; c < columns; c++) amax = Math.max(amax, Math.abs(w[r * columns + c]));
                float scale = q.scales().getAtIndex(java.lang.foreign.ValueLayout.JAVA_FLOAT_UNALIGNED, r);
                assertThat(scale).as("row %d scale", r).isEqualTo(amax / 127f);
                for (int c = 0; c < columns; c++) {
                    assertThat((double) Math.abs(held[r * columns + c] - w[r * columns + c])).as("[%d, %d]", r, c)
                            .isLessThanOrEqualTo(scale / 2 * (1 + 1e-5));
                    byte stored = q.values().get(java.lang.foreign.ValueLayout.JAVA_BYTE, (long) c * rows + r);
                    assertThat(stored * scale).as("[%d, %d] stored transposed", r, c).isEqualTo(held[r * columns + c]);
                }
            }
            assertThat(held[3 * columns + 7]).isZero();
        }
    }

    @Test
    void oneLayerWithBiasOverLeadingAxesEqualsAFp32GemmWithinTheActivationRounding() {
        float[] w = gaussian(24 * K, 2, 0.05);
        float[] bias = gaussian(24, 3, 0.1);
        float[] x = gaussian(2 * TOKENS * K, 4, 1);
        for (int k = 0; k < K; k++) x[K + k] = 0; // an all-zero row: its outputs are the bias
        x[2 * K + 5] = 40; // an outlier widens its row's step
        FloatTensor input = new FloatTensor(new long[]{2, TOKENS, K}, x);
        Map<String, float[]> weights = new HashMap<>(Map.of("fc.weight", w, "fc.bias", bias));

        GraphBuilder g = new GraphBuilder("w8a8");
        Value in = g.floatInput("x", 2, "tokens", K);
        g.output(new Linears(WeightMode.W8A8, 4).linear(g, in, "fc", K, 24, true), "y");
        assertThat(g.channelQuantizedWeights()).containsExactly("fc.weight");
        assertThat(g.weights().get("fc.weight")).containsExactly(24, K);
        FloatTensor y = run(g, weights, input);

        assertThat(y.shape()).containsExactly(2, TOKENS, 24);
        check(y.data(), input.data(), w, bias, 24);
        for (int n = 0; n < 24; n++) assertThat(y.data()[24 + n]).as("zero row, output %d", n).isEqualTo(bias[n]);
    }

    @Test
    void layersSharingAnInputQuantizeItOnceAndEachEqualsItsFp32Gemm() {
        long[] outs = {16, 40, 8};
        List<String> prefixes = List.of("a", "b", "c");
        Map<String, float[]> weights = new HashMap<>();
        for (int i = 0; i < outs.length; i++) weights.put(prefixes.get(i) + ".weight", gaussian((int) outs[i] * K, 10 + i, 0.05));
        FloatTensor input = new FloatTensor(new long[]{1, TOKENS, K}, gaussian(TOKENS * K, 5, 1));

        GraphBuilder g = new GraphBuilder("w8a8-shared");
        Value in = g.floatInput("x", 1, "tokens", K);
        Value[] ys = new Linears(WeightMode.W8A8, 4).stackedLinear(g, in, prefixes, K, outs, false);
        for (int i = 0; i < ys.length; i++) g.output(ys[i], "y" + i);
        assertThat(g.build().getGraph().getNodeList().stream().filter(n -> n.getOpType().equals("QuantizeLinear")).count())
                .as("quantizations of the shared input").isEqualTo(1);
        Map<String, FloatTensor> out;
        try (OnnxModel model = OnnxModel.create(g, (name, arena) -> direct(weights.get(name)), RuntimeOptions.defaults().withThreads(2))) {
            out = model.run(Map.of("x", input));
        }
        for (int i = 0; i < ys.length; i++) {
            int n = (int) outs[i];
            FloatTensor y = out.get("y" + i);
            assertThat(y.shape()).containsExactly(1, TOKENS, n);
            check(y.data(), input.data(), weights.get(prefixes.get(i) + ".weight"), new float[n], n);
        }
    }

    /** Each output against the integer arithmetic the layer stands for, computed here exactly. */
    private static void check(float[] actual, float[] x, float[] w, float[] bias, int n) {
        int rows = x.length / K;
        try (Arena arena = Arena.ofConfined()) {
            ChannelQuantizedWeight q = ChannelQuantizedWeight.quantize(w, n, K, arena);
            for (int m = 0; m < rows; m++) {
                float amax = 0;
                for (int k = 0; k < K; k++) amax = Math.max(amax, Math.abs(x[m * K + k]));
                float step = Math.max(amax / 127f, Float.MIN_NORMAL);
                for (int j = 0; j < n; j++) {
                    float scale = q.scales().getAtIndex(java.lang.foreign.ValueLayout.JAVA_FLOAT_UNALIGNED, j);
                    long sum = 0;
                    double magnitude = Math.abs(bias[j]), largestWeight = 0;
                    for (int k = 0; k < K; k++) {
                        long qx = (long) Math.rint(x[m * K + k] / step);
                        long qw = q.values().get(java.lang.foreign.ValueLayout.JAVA_BYTE, (long) k * n + j);
                        sum += qx * qw;
                        magnitude += Math.abs((double) step * scale * qx * qw);
                        largestWeight = Math.max(largestWeight, Math.abs(qw * scale));
                    }
                    double expected = (double) step * scale * sum + bias[j];
                    double err = Math.abs(actual[m * n + j] - expected);
                    // fp32 rounding of the scaling, plus one activation step at most where a tie rounded the other way
                    assertThat(err).as("[%d, %d]", m, j).isLessThanOrEqualTo(1e-5 * magnitude + step * largestWeight);
                }
            }
        }
    }

    private static FloatTensor run(GraphBuilder g, Map<String, float[]> weights, FloatTensor x) {
        try (OnnxModel model = OnnxModel.create(g, (name, arena) -> direct(weights.get(name)), RuntimeOptions.defaults().withThreads(2))) {
            return model.runSingle(Map.of("x", x));
        }
    }
}
