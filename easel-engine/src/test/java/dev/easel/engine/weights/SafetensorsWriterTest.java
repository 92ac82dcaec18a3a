package dev.easel.engine.weights;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class SafetensorsWriterTest {
    @TempDir
    Path temp;

    private static float[] floats(ByteBuffer b) {
        float[] out = new float[b.capacity() / 4];
        b.asFloatBuffer().get(out);
        return out;
    }

    @Test
    void roundTripsEveryFloatTypeIntegersAndMetadata() throws IOException {
        float[] values = {0f, -0.0f, 1f, -2.5f, 65504f, 1e-7f, Float.POSITIVE_INFINITY};
        Path file = temp.resolve("round.safetensors");
        byte[] ints = ByteBuffer.allocate(24).order(ByteOrder.LITTLE_ENDIAN).putLong(7).putLong(-1).putLong(42).array();
        SafetensorsWriter.write(file, List.of(
                new SafetensorsWriter.Entry("f32", DType.F32, new long[]{7}, TensorData.floats(DType.F32, values)),
                new SafetensorsWriter.Entry("f16", DType.F16, new long[]{7, 1}, TensorData.floats(DType.F16, values)),
                new SafetensorsWriter.Entry("bf16", DType.BF16, new long[]{1, 7}, TensorData.floats(DType.BF16, values)),
                new SafetensorsWriter.Entry("f64", DType.F64, new long[]{7}, TensorData.floats(DType.F64, values)),
                new SafetensorsWriter.Entry("ids", DType.I64, new long[]{3}, TensorData.of(ints)),
                new SafetensorsWriter.Entry("scale", DType.F32, new long[]{}, TensorData.floats(DType.F32, 4.6f))),
                Map.of("format", "pt"));

        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            assertThat(f.metadata()).containsEntry("format", "pt");
            assertThat(f.names()).containsExactly("f32", "f16", "bf16", "f64"); // no integers, no 0-dim scalar
            assertThat(f.info("f16").shape()).containsExactly(7, 1);
            assertThat(floats(f.float32("f32"))).containsExactly(values);
            assertThat(floats(f.float32("f64"))).containsExactly(values);
            float[] half = floats(f.float32("f16"));
            assertThat(half[4]).isEqualTo(65504f);
            assertThat(half[5]).isEqualTo(Float.float16ToFloat(Float.floatToFloat16(1e-7f))); // an fp16 subnormal
            assertThat(Float.floatToRawIntBits(half[1])).isEqualTo(0x80000000);
            float[] brain = floats(f.float32("bf16"));
            assertThat(brain[3]).isEqualTo(-2.5f);
            assertThat(brain[4]).isEqualTo(65536f); // 65504 rounds up to the nearest bf16
            assertThat(brain[6]).isEqualTo(Float.POSITIVE_INFINITY);
            assertThat(f.bytes("ids").asByteBuffer().order(ByteOrder.LITTLE_ENDIAN).getLong(8)).isEqualTo(-1);
            assertThat(f.float32("scale").getFloat(0)).isEqualTo(4.6f);
            // data starts 8-byte aligned
            assertThat(f.info("f32").byteOffset() % 8).isZero();
        }
        assertThat(Files.exists(temp.resolve("round.safetensors.partial"))).isFalse();
    }

    @Test
    void bf16EncodingRoundsHalfwayCasesToEven() throws IOException {
        float tieDown = 1f + 0x1p-8f;      // halfway between 1 and 1+2^-7: keeps the even mantissa, 1
        float tieUp = 1f + 3 * 0x1p-8f;    // halfway between 1+2^-7 and 1+2^-6: goes to the even one, 1+2^-6
        float above = 1f + 0x1p-8f + 0x1p-20f;
        Path file = temp.resolve("bf16.safetensors");
        SafetensorsWriter.write(file, List.of(new SafetensorsWriter.Entry("w", DType.BF16, new long[]{4},
                TensorData.floats(DType.BF16, tieDown, tieUp, above, Float.NaN))));
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            float[] out = floats(f.float32("w"));
            assertThat(out[0]).isEqualTo(1f);
            assertThat(out[1]).isEqualTo(1f + 0x1p-6f);
            assertThat(out[2]).isEqualTo(1f + 0x1p-7f);
            assertThat(out[3]).isNaN();
        }
    }

    @Test
    void generatedDataStreamsInChunksOfAnySize() throws IOException {
        long count = 100_003; // several encoder chunks and a ragged end
        Path file = temp.resolve("big.safetensors");
        SafetensorsWriter.write(file, List.of(new SafetensorsWriter.Entry("ramp", DType.F16, new long[]{count},
                TensorData.generated(DType.F16, count, new TensorData.FloatChunks() {
                    private long next;

                    @Override
                    public void next(float[] chunk, int length) {
                        for (int i = 0; i < length; i++) chunk[i] = (next++ % 1000);
                    }
                }))));
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            ByteBuffer b = f.float32("ramp");
            assertThat(b.getFloat(0)).isEqualTo(0f);
            assertThat(b.getFloat(4 * 999)).isEqualTo(999f);
            assertThat(b.getFloat(4 * 100_002)).isEqualTo(2f);
        }
    }

    @Test
    void dataOfTheWrongLengthIsAnErrorNamingTheTensorAndLeavesNoFile() {
        Path file = temp.resolve("short.safetensors");
        assertThatThrownBy(() -> SafetensorsWriter.write(file, List.of(
                new SafetensorsWriter.Entry("w", DType.F32, new long[]{3}, TensorData.floats(DType.F32, 1f, 2f)))))
                .isInstanceOf(WeightsException.class)
                .hasMessageContaining(file.toString()).hasMessageContaining("'w'").hasMessageContaining("needs 12");
        assertThat(Files.exists(file)).isFalse();
        assertThat(Files.exists(temp.resolve("short.safetensors.partial"))).isFalse();
    }

    @Test
    void aNameGivenTwiceIsRejected() {
        Path file = temp.resolve("twice.safetensors");
        SafetensorsWriter.Entry e = new SafetensorsWriter.Entry("w", DType.F32, new long[]{1}, TensorData.floats(DType.F32, 1f));
        assertThatThrownBy(() -> SafetensorsWriter.write(file, List.of(e, e)))
                .isInstanceOf(WeightsException.class).hasMessageContaining("'w'");
    }
}
