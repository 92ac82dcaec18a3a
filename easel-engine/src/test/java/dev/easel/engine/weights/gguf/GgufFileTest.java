package dev.easel.engine.weights.gguf;

import dev.easel.engine.quant.BlockFormat;
import dev.easel.engine.quant.QuantizedWeight;
import dev.easel.engine.weights.DType;
import dev.easel.engine.weights.TensorInfo;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;

/** Files our writer makes, read back: header, metadata, shapes, and values within each type's quantization error. */
class GgufFileTest {
    @TempDir
    Path temp;

    static float[] gaussian(int n, long seed) {
        Random r = new Random(seed);
        float[] x = new float[n];
        for (int i = 0; i < n; i++) x[i] = (float) r.nextGaussian();
        return x;
    }

    static float[] read(GgufFile f, String name) {
        ByteBuffer b = f.float32(name, Arena.ofAuto());
        float[] out = new float[b.remaining() / 4];
        b.order(ByteOrder.nativeOrder()).asFloatBuffer().get(out);
        return out;
    }

    @Test
    void metadataAndTensorInfosRoundTrip() {
        Map<String, Object> meta = new LinkedHashMap<>();
        meta.put("general.architecture", "flux");
        meta.put(GgufFile.ALIGNMENT_KEY, 64);
        meta.put("count", 7);
        meta.put("big", 1L << 40);
        meta.put("ratio", 0.5f);
        meta.put("precise", 0.25);
        meta.put("flag", true);
        meta.put("names", List.of("a", "bc"));
        meta.put("nested", List.of(List.of(1, 2), List.of(3)));
        Path file = temp.resolve("meta.gguf");
        GgufWriter.write(file, meta, List.of(
                GgufWriter.Entry.of("a.weight", GgufType.F32, new long[]{2, 3}, 1, 2, 3, 4, 5, 6),
                GgufWriter.Entry.of("b.weight", GgufType.Q8_0, new long[]{1, 32}, gaussian(32, 1))));
        try (GgufFile f = GgufFile.open(file)) {
            assertThat(f.version()).isEqualTo(3);
            assertThat(f.alignment()).isEqualTo(64);
            assertThat(f.metadata()).containsEntry("general.architecture", "flux").containsEntry(GgufFile.ALIGNMENT_KEY, 64L)
                    .containsEntry("count", 7).containsEntry("big", 1L << 40).containsEntry("ratio", 0.5f)
                    .containsEntry("precise", 0.25).containsEntry("flag", true).containsEntry("names", List.of("a", "bc"))
                    .containsEntry("nested", List.of(List.of(1, 2), List.of(3)));
            assertThat(f.metadataString("general.architecture")).hasValue("flux");
            assertThat(f.names()).containsExactly("a.weight", "b.weight");
            GgufTensor a = f.tensor("a.weight");
            assertThat(a.dims()).containsExactly(3, 2);
            assertThat(a.shape()).containsExactly(2, 3);
            assertThat(a.offset() % 64).isZero();
            assertThat(f.tensor("b.weight").offset() % 64).isZero();
            assertThat(f.info("a.weight")).isEqualTo(new TensorInfo("a.weight", DType.F32, new long[]{2, 3}, a.offset(), 24));
            assertThat(f.info("b.weight").dtype()).isEqualTo(DType.U8);
            assertThat(f.info("b.weight").byteLength()).isEqualTo(34);
            assertThat(read(f, "a.weight")).containsExactly(1, 2, 3, 4, 5, 6);
        }
    }

    @Test
    void theComfyOriginalShapeReplacesTheReversedDims() {
        Path file = temp.resolve("orig.gguf");
        GgufWriter.write(file, Map.of(GgufFile.ORIGINAL_SHAPE_PREFIX + "conv.weight", List.of(2, 4, 2, 2)),
                List.of(GgufWriter.Entry.of("conv.weight", GgufType.Q8_0, new long[]{1, 32}, gaussian(32, 2))));
        try (GgufFile f = GgufFile.open(file)) {
            assertThat(f.tensor("conv.weight").dims()).containsExactly(32, 1);
            assertThat(f.info("conv.weight").shape()).containsExactly(2, 4, 2, 2);
        }
    }

    /**
     * Largest error allowed per block, as a multiple of the block's largest magnitude, from each format's step:
     * symmetric kinds clamp the top level, so a value may be a whole step d off (Q8_0: d = amax / 127, Q4_0: amax / 8,
     * Q5_0: amax / 16); min/scale kinds are half a step off, d = (max - min) / levels <= 2 amax / levels. Each adds
     * the fp16 rounding of d and m (relative 2^-11, times at most 2 amax of offsets and levels).
     */
    private static double blockBound(GgufType type) {
        double fp16 = 3 * 0x1p-11;
        return switch (type) {
            case F32 -> 0;
            case F16 -> 0x1p-11;
            case BF16 -> 0x1p-8;
            case Q8_0 -> 1 / 127.0 + fp16;
            case Q4_0 -> 1 / 8.0 + fp16;
            case Q5_0 -> 1 / 16.0 + fp16;
            case Q4_1 -> 1 / 15.0 + fp16;
            case Q5_1 -> 1 / 31.0 + fp16;
            default -> Double.NaN;
        };
    }

    /**
     * K formats' sub-block scales are themselves quantized and fitted by least squares, so the bound is on the
     * root-mean-square error relative to that of the values: a uniform quantizer with step D has an rms error of
     * D / sqrt(12); a sub-block of 32 Gaussian values spans about 4.1 sigma, so D is about 4.1 / 15 (Q4_K) and
     * 4.1 / 31 (Q5_K) sigma, giving 0.079 and 0.038; Q6_K's 16-value sub-blocks span about 2 x 1.8 sigma over 64
     * levels: 0.016. The bounds allow 30% over these figures for the 6/8-bit rounding of the sub-block scales.
     */
    private static double rmsBound(GgufType type) {
        return switch (type) {
            case Q4_K -> 0.079 * 1.3;
            case Q5_K -> 0.038 * 1.3;
            case Q6_K -> 0.016 * 1.3;
            default -> Double.NaN;
        };
    }

    @ParameterizedTest
    @EnumSource(GgufType.class)
    void eachTypeReadsBackWithinItsQuantizationError(GgufType type) {
        long[] shape = {3, 512};
        float[] x = gaussian(3 * 512, type.ordinal());
        Path file = temp.resolve(type + ".gguf");
        GgufWriter.write(file, Map.of(), List.of(GgufWriter.Entry.of("w", type, shape, x)));
        try (GgufFile f = GgufFile.open(file)) {
            GgufTensor t = f.tensor("w");
            assertThat(t.type()).isEqualTo(type);
            assertThat(t.shape()).containsExactly(shape);
            assertThat(t.byteLength()).isEqualTo(3 * 512 / type.blockSize() * type.bytesPerBlock());
            float[] y = read(f, "w");
            if (Double.isNaN(blockBound(type))) {
                double err = 0, ref = 0;
                for (int i = 0; i < x.length; i++) {
                    err += (x[i] - y[i]) * (double) (x[i] - y[i]);
                    ref += x[i] * (double) x[i];
                }
                assertThat(Math.sqrt(err / ref)).as("relative rms error").isLessThan(rmsBound(type));
            } else {
                int block = Math.max(32, type.blockSize());
                for (int b = 0; b < x.length; b += block) {
                    float amax = 0;
                    for (int i = b; i < b + block; i++) amax = Math.max(amax, Math.abs(x[i]));
                    for (int i = b; i < b + block; i++) {
                        double allowed = type.blockSize() == 1 ? blockBound(type) * Math.abs(x[i]) : blockBound(type) * amax;
                        assertThat((double) Math.abs(x[i] - y[i])).as("%s element %d", type, i).isLessThanOrEqualTo(allowed);
                    }
                }
            }
        }
    }

    /** Re-encoding decoded blocks gives the same blocks back: the writer's grid is a fixed point of itself. */
    @ParameterizedTest
    @EnumSource(value = GgufType.class, names = {"Q8_0", "Q4_0", "Q5_0", "Q4_1", "Q5_1"})
    void legacyBlocksAreStableUnderRequantization(GgufType type) {
        float[] x = gaussian(256, 40 + type.ordinal());
        ByteBuffer first = ByteBuffer.allocate((int) type.byteLength(256)).order(ByteOrder.LITTLE_ENDIAN);
        type.quantize(x, 0, 256, first);
        float[] y = type.dequantize(MemorySegment.ofArray(first.array()), 256);
        ByteBuffer second = ByteBuffer.allocate(first.capacity()).order(ByteOrder.LITTLE_ENDIAN);
        type.quantize(y, 0, 256, second);
        float[] z = type.dequantize(MemorySegment.ofArray(second.array()), 256);
        for (int i = 0; i < 256; i++) assertThat(z[i]).isCloseTo(y[i], org.assertj.core.api.Assertions.within(Math.abs(y[i]) * 2e-3f + 1e-6f));
    }

    /** Q8_0, Q4_0 and Q5_0 blocks reach MatMulNBits as they are: what it computes with is exactly what the file says. */
    @ParameterizedTest
    @EnumSource(value = GgufType.class, names = {"Q8_0", "Q4_0", "Q5_0"})
    void symmetricBlocksMapOntoMatMulNBitsWithoutRounding(GgufType type) {
        Path file = temp.resolve("map-" + type + ".gguf");
        GgufWriter.write(file, Map.of(), List.of(GgufWriter.Entry.of("w", type, new long[]{4, 96}, gaussian(4 * 96, 9))));
        try (GgufFile f = GgufFile.open(file); Arena arena = Arena.ofConfined()) {
            float[] stored = read(f, "w");
            for (BlockFormat format : List.of(BlockFormat.INT8, BlockFormat.INT4)) {
                boolean expected = format.bits() == 8 || type == GgufType.Q4_0;
                var mapped = f.quantized("w", format, arena);
                assertThat(mapped.isPresent()).as("%s to %d bits", type, format.bits()).isEqualTo(expected);
                if (!expected) continue;
                QuantizedWeight q = mapped.get();
                assertThat(q.rows()).isEqualTo(4);
                assertThat(q.columns()).isEqualTo(96);
                float[] used = q.dequantize();
                // numerically equal (0.0 and -0.0 both count: a negative scale times q = 0 gives -0.0)
                for (int i = 0; i < stored.length; i++) assertThat(used[i] == stored[i]).as("element %d: %s vs %s", i, used[i], stored[i]).isTrue();
            }
        }
    }

    @Test
    void otherTypesAreLeftToRequantization() {
        Path file = temp.resolve("k.gguf");
        GgufWriter.write(file, Map.of(), List.of(GgufWriter.Entry.of("w", GgufType.Q4_1, new long[]{1, 32}, gaussian(32, 3))));
        try (GgufFile f = GgufFile.open(file); Arena arena = Arena.ofConfined()) {
            assertThat(f.quantized("w", BlockFormat.INT4, arena)).isEmpty();
            assertThat(f.quantized("w", BlockFormat.INT8, arena)).isEmpty();
        }
    }

    @Test
    void q8_0MapsItsBytesPlus128() {
        Path file = temp.resolve("bytes.gguf");
        float[] x = new float[32];
        for (int i = 0; i < 32; i++) x[i] = i - 16;  // amax 16: d = 16 / 127, q = round(x * 127 / 16)
        GgufWriter.write(file, Map.of(), List.of(GgufWriter.Entry.of("w", GgufType.Q8_0, new long[]{1, 32}, x)));
        try (GgufFile f = GgufFile.open(file); Arena arena = Arena.ofConfined()) {
            QuantizedWeight q = f.quantized("w", BlockFormat.INT8, arena).orElseThrow();
            MemorySegment stored = f.bytes("w");
            for (int i = 0; i < 32; i++) {
                assertThat(q.integer(0, i)).isEqualTo(stored.get(ValueLayout.JAVA_BYTE, 2 + i) + 128);
                // ggml rounds with roundf, ties away from zero: -8 * 127 / 16 = -63.5 goes to -64
                float scaled = (i - 16) * (1 / (16 / 127f));
                assertThat(q.integer(0, i) - 128).isEqualTo((int) Math.copySign(Math.floor(Math.abs(scaled) + 0.5), scaled));
            }
            assertThat(q.scale(0, 0)).isEqualTo(Float.float16ToFloat(Float.floatToFloat16(16 / 127f)));
        }
    }
}
