package dev.easel.diffusion.model.t5;

import dev.easel.diffusion.fixtures.Compare;
import dev.easel.diffusion.fixtures.FixtureCase;
import dev.easel.diffusion.model.ComponentLoader;
import dev.easel.engine.runtime.RuntimeOptions;
import dev.easel.engine.tensor.FloatTensor;
import dev.easel.engine.weights.DType;
import dev.easel.engine.weights.RenamedWeights;
import dev.easel.engine.weights.SafetensorsFile;
import dev.easel.engine.weights.SafetensorsWriter;
import dev.easel.engine.weights.ScaledFp8Weights;
import dev.easel.engine.weights.TensorData;
import dev.easel.engine.weights.WeightSource;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The fixtures' T5 written as ComfyUI writes its scaled-fp8 T5-XXL (linears as fp8 + a scale, the rest as stored,
 * every name under {@code text_encoders.t5xxl.transformer.}), read back through {@link ScaledFp8Weights} and a
 * prefix view: it must be exactly the model whose weights are the dequantized values.
 */
class ScaledFp8T5Test {
    private static final String PREFIX = "text_encoders.t5xxl.transformer.";
    /** The largest finite float8_e4m3fn value: scales map each tensor's largest magnitude onto it. */
    private static final float E4M3_MAX = 448f;

    @TempDir
    Path temp;

    @Test
    void scaledFp8T5EncodesAsItsDequantizedWeights() {
        Path source = null;
        for (Path family : FixtureCase.families()) {
            Path file = family.resolve("diffusers/text_encoder_2/model.safetensors");
            if (Files.isRegularFile(file) && "t5".equals(FixtureCase.readJson(
                    file.resolveSibling("config.json")).path("model_type").asText())) source = file;
        }
        assumeTrue(source != null, "no family of the fixtures has a T5 text_encoder_2");
        float[] e4m3 = e4m3Values();
        Path scaled = temp.resolve("t5_tiny_fp8_e4m3fn_scaled.safetensors");
        Path dequantized = temp.resolve("t5_tiny_dequantized.safetensors");
        try (SafetensorsFile original = SafetensorsFile.open(source)) {
            List<SafetensorsWriter.Entry> fp8 = new ArrayList<>();
            List<SafetensorsWriter.Entry> f32 = new ArrayList<>();
            fp8.add(new SafetensorsWriter.Entry(PREFIX + "scaled_fp8", DType.F8_E4M3, new long[]{0}, TensorData.of(new byte[0])));
            for (String name : original.names()) {
                long[] shape = original.info(name).shape();
                float[] w = new float[(int) original.info(name).elementCount()];
                original.float32(name).asFloatBuffer().get(w);
                if (!isLinear(name)) {
                    fp8.add(new SafetensorsWriter.Entry(PREFIX + name, original.info(name).dtype(), shape,
                            TensorData.of(original.bytes(name).asByteBuffer())));
                    f32.add(new SafetensorsWriter.Entry(name, DType.F32, shape, TensorData.floats(DType.F32, w)));
                    continue;
                }
                float max = 0;
                for (float v : w) max = Math.max(max, Math.abs(v));
                float scale = max / E4M3_MAX;
                byte[] codes = new byte[w.length];
                float[] values = new float[w.length];
                for (int i = 0; i < w.length; i++) {
                    codes[i] = nearest(e4m3, w[i] / scale);
                    values[i] = e4m3[codes[i] & 0xFF] * scale;
                }
                String stem = name.substring(0, name.length() - ".weight".length());
                fp8.add(new SafetensorsWriter.Entry(PREFIX + name, DType.F8_E4M3, shape, TensorData.of(codes)));
                fp8.add(new SafetensorsWriter.Entry(PREFIX + stem + ".scale_weight", DType.F32, new long[0], TensorData.floats(DType.F32, scale)));
                f32.add(new SafetensorsWriter.Entry(name, DType.F32, shape, TensorData.floats(DType.F32, values)));
            }
            SafetensorsWriter.write(scaled, fp8);
            SafetensorsWriter.write(dequantized, f32);
        }

        long[] ids = {100, 7, 31000, 5, 1, 0, 0, 0, 0, 0};
        try (SafetensorsFile fp8File = SafetensorsFile.open(scaled); SafetensorsFile f32File = SafetensorsFile.open(dequantized)) {
            assertThat(ScaledFp8Weights.isScaledFp8(fp8File)).isTrue();
            WeightSource view = stripPrefix(new ScaledFp8Weights(fp8File));
            T5Config config = ComponentLoader.inferConfig("text_encoder_2", view, T5Config::infer);
            assertThat(config).isEqualTo(ComponentLoader.inferConfig("text_encoder_2", f32File, T5Config::infer));
            try (T5TextEncoder fromFp8 = new T5TextEncoder(config, view, "text_encoder_2", RuntimeOptions.defaults());
                 T5TextEncoder reference = new T5TextEncoder(config, f32File, "text_encoder_2", RuntimeOptions.defaults())) {
                FloatTensor expected = reference.encode(ids);
                FloatTensor actual = fromFp8.encode(ids);
                assertThat(Compare.relativeError(actual, expected)).isEqualTo(0.0);
            }
        }
    }

    /** The weights a scaled-fp8 file quantizes: the attention and feed-forward projections. */
    private static boolean isLinear(String name) {
        return name.matches("encoder\\.block\\.\\d+\\.layer\\.(0\\.SelfAttention\\.[qkvo]|1\\.DenseReluDense\\.w\\w+)\\.weight");
    }

    private static WeightSource stripPrefix(WeightSource weights) {
        Map<String, String> names = new LinkedHashMap<>();
        for (String n : weights.names()) names.put(n.substring(PREFIX.length()), n);
        return new RenamedWeights(weights, "t5xxl, transformers names", names, Map.of());
    }

    /** The value of every float8_e4m3fn byte, decoded by the engine (NaN for the two NaN codes). */
    private static float[] e4m3Values() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment bytes = arena.allocate(256);
            for (int b = 0; b < 256; b++) bytes.set(ValueLayout.JAVA_BYTE, b, (byte) b);
            MemorySegment out = arena.allocate(256 * Float.BYTES);
            DType.F8_E4M3.toFloat32(bytes, out, 256);
            return out.toArray(ValueLayout.JAVA_FLOAT);
        }
    }

    private static byte nearest(float[] table, float v) {
        int best = 0;
        for (int b = 1; b < table.length; b++) {
            if (!Float.isNaN(table[b]) && Math.abs(table[b] - v) < Math.abs(table[best] - v)) best = b;
        }
        return (byte) best;
    }
}
