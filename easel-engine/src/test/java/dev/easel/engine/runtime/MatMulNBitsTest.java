package dev.easel.engine.runtime;

import dev.easel.engine.graph.GraphBuilder;
import dev.easel.engine.graph.Value;
import dev.easel.engine.quant.BlockFormat;
import dev.easel.engine.quant.BlockQuantizer;
import dev.easel.engine.tensor.FloatTensor;
import dev.easel.engine.weights.gguf.GgufFile;
import dev.easel.engine.weights.gguf.GgufType;
import dev.easel.engine.weights.gguf.GgufWriter;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.lang.foreign.Arena;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static dev.easel.engine.runtime.TestWeights.direct;
import static dev.easel.engine.runtime.TestWeights.gaussian;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Block-quantized linear layers through ONNX Runtime's MatMulNBits equal a fp32 Gemm over the weights they hold.
 * Accuracy level 0 computes in fp32: the two differ by the order of fp32 sums only. Level 4 also quantizes the
 * activations to int8 in blocks along K (scale = block amax / 127, so each is off by at most half that scale);
 * it is held to the bound that error implies for each output, sum over k of |w[n,k]| x scale(m, block of k) / 2.
 */
class MatMulNBitsTest {
    private static final int K = 256, N = 96, TOKENS = 7;

    @TempDir
    Path temp;

    static Stream<Arguments> cases() {
        List<Arguments> all = new ArrayList<>();
        for (int level : new int[]{0, 4}) {
            for (boolean prepack : new boolean[]{true, false}) {
                all.add(Arguments.of(GgufType.Q8_0, BlockFormat.INT8, level, prepack));
                all.add(Arguments.of(GgufType.Q4_0, BlockFormat.INT4, level, prepack));
                all.add(Arguments.of(GgufType.Q4_0, BlockFormat.INT8, level, prepack));
            }
        }
        return all.stream();
    }

    @ParameterizedTest(name = "{0} as {1}, accuracy level {2}, prepack {3}")
    @MethodSource("cases")
    void ggufBlocksEqualAFp32GemmOverTheirValues(GgufType type, BlockFormat format, int level, boolean prepack) {
        Path file = temp.resolve("linear.gguf");
        float[] w = gaussian(N * K, 1, 0.05);
        float[] bias = gaussian(N, 2, 0.1);
        GgufWriter.write(file, Map.of(), List.of(
                GgufWriter.Entry.of("fc.weight", type, new long[]{N, K}, w),
                GgufWriter.Entry.of("fc.bias", GgufType.F32, new long[]{N}, bias)));
        FloatTensor x = new FloatTensor(new long[]{1, TOKENS, K}, gaussian(TOKENS * K, 3, 1));
        try (GgufFile gguf = GgufFile.open(file)) {
            float[] stored = floats(gguf.float32("fc.weight"));
            RuntimeOptions options = RuntimeOptions.defaults().withThreads(2).withPrepack(prepack);
            GraphBuilder q = quantizedGraph(format, level);
            FloatTensor yq;
            try (OnnxModel model = OnnxModel.create(q, OnnxModel.WeightProvider.of(gguf, q), options)) {
                yq = model.runSingle(Map.of("x", x));
            }
            FloatTensor reference = fp32Linear(stored, bias, x);
            assertThat(yq.shape()).containsExactly(1, TOKENS, N);
            check(yq, reference, stored, x, level);
        }
    }

    @ParameterizedTest(name = "our {0} quantizer, accuracy level {1}")
    @MethodSource("ourCases")
    void ourQuantizedWeightsEqualAFp32GemmOverTheirValues(BlockFormat format, int level) {
        float[] w = gaussian(N * K, 4, 0.05);
        float[] bias = gaussian(N, 5, 0.1);
        FloatTensor x = new FloatTensor(new long[]{1, TOKENS, K}, gaussian(TOKENS * K, 6, 1));
        float[] held;
        try (Arena arena = Arena.ofConfined()) {
            held = BlockQuantizer.quantize(w, N, K, format, arena).dequantize();
        }
        GraphBuilder q = quantizedGraph(format, level);
        Map<String, float[]> weights = Map.of("fc.weight", w, "fc.bias", bias);
        try (OnnxModel model = OnnxModel.create(q, (name, arena) -> direct(weights.get(name)), RuntimeOptions.defaults().withThreads(2))) {
            check(model.runSingle(Map.of("x", x)), fp32Linear(held, bias, x), held, x, level);
        }
    }

    static Stream<Arguments> ourCases() {
        return Stream.of(Arguments.of(BlockFormat.INT8, 0), Arguments.of(BlockFormat.INT4, 0),
                Arguments.of(BlockFormat.INT8, 4), Arguments.of(BlockFormat.INT4, 4));
    }

    @org.junit.jupiter.api.Test
    void aQuantizedWeightIsListedWithItsLogicalShapeAndCannotAlsoBeFp32() {
        GraphBuilder g = quantizedGraph(BlockFormat.INT4, 0);
        assertThat(g.weights().get("fc.weight")).containsExactly(N, K);
        assertThat(g.weights().get("fc.bias")).containsExactly(N);
        assertThat(g.quantizedWeights()).containsExactly(Map.entry("fc.weight", BlockFormat.INT4));
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> g.weight("fc.weight", N, K)).hasMessageContaining("fc.weight");
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> g.quantizedWeight("fc.weight", N, K, BlockFormat.INT8))
                .hasMessageContaining("fc.weight");
    }

    private static GraphBuilder quantizedGraph(BlockFormat format, int level) {
        GraphBuilder g = new GraphBuilder("nbits");
        Value in = g.floatInput("x", 1, "tokens", K);
        g.output(g.quantizedLinear(in, "fc", K, N, true, format, level), "y");
        return g;
    }

    private static FloatTensor fp32Linear(float[] w, float[] bias, FloatTensor x) {
        GraphBuilder g = new GraphBuilder("fp32");
        Value in = g.floatInput("x", 1, "tokens", K);
        g.output(g.linear(in, "fc", K, N, true), "y");
        Map<String, float[]> weights = Map.of("fc.weight", w, "fc.bias", bias);
        try (OnnxModel model = OnnxModel.create(g, (name, arena) -> direct(weights.get(name)), RuntimeOptions.defaults().withThreads(2))) {
            return model.runSingle(Map.of("x", x));
        }
    }

    private static void check(FloatTensor actual, FloatTensor reference, float[] w, FloatTensor x, int level) {
        float[] a = actual.data(), b = reference.data();
        double maxRef = 0, maxErr = 0;
        for (int i = 0; i < a.length; i++) {
            maxRef = Math.max(maxRef, Math.abs(b[i]));
            maxErr = Math.max(maxErr, Math.abs(a[i] - b[i]));
        }
        if (level == 0) {
            assertThat(maxErr / maxRef).as("max|a-b|/max|b|").isLessThan(1e-5);
            return;
        }
        float[] xs = x.data();
        for (int m = 0; m < TOKENS; m++) {
            for (int n = 0; n < N; n++) {
                double bound = 0;
                for (int k0 = 0; k0 < K; k0 += 32) {
                    double amax = 0;
                    for (int k = k0; k < k0 + 32; k++) amax = Math.max(amax, Math.abs(xs[m * K + k]));
                    for (int k = k0; k < k0 + 32; k++) bound += Math.abs(w[n * K + k]) * amax / 127 / 2;
                }
                double err = Math.abs(a[m * N + n] - b[m * N + n]);
                assertThat(err).as("[%d, %d]", m, n).isLessThanOrEqualTo(bound + 1e-5 * maxRef);
            }
        }
        assertThat(maxErr / maxRef).as("max|a-b|/max|b| with int8 activations").isLessThan(1e-2);
    }

    private static float[] floats(ByteBuffer b) {
        float[] out = new float[b.remaining() / 4];
        b.order(ByteOrder.nativeOrder()).asFloatBuffer().get(out);
        return out;
    }
}
