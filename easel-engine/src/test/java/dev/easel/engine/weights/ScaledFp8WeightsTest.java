package dev.easel.engine.weights;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class ScaledFp8WeightsTest {
    /** float8_e4m3fn encodings: 1.0, 2.0, 1.5, -1.0, 0.5, 0. */
    private static final byte ONE = 0x38, TWO = 0x40, ONE_AND_HALF = 0x3C, MINUS_ONE = (byte) 0xB8, HALF = 0x30, ZERO = 0;

    @TempDir
    Path temp;

    private static SafetensorsWriter.Entry fp8(String name, long[] shape, byte... values) {
        return new SafetensorsWriter.Entry(name, DType.F8_E4M3, shape, TensorData.of(values));
    }

    private static SafetensorsWriter.Entry f32(String name, long[] shape, float... values) {
        return new SafetensorsWriter.Entry(name, DType.F32, shape, TensorData.floats(DType.F32, values));
    }

    /** As ComfyUI writes them: an empty fp8 marker, 0-dim fp32 scales, an input scale, an unquantized norm. */
    private Path scaledFile(String name, boolean withScales) {
        List<SafetensorsWriter.Entry> entries = new ArrayList<>();
        entries.add(fp8("scaled_fp8", new long[]{0}));
        entries.add(fp8("enc.q.weight", new long[]{2, 3}, ONE, TWO, ONE_AND_HALF, MINUS_ONE, HALF, ZERO));
        if (withScales) {
            entries.add(f32("enc.q.scale_weight", new long[0], 0.25f));
            entries.add(f32("enc.q.scale_input", new long[0], 1f));
        }
        entries.add(new SafetensorsWriter.Entry("enc.norm.weight", DType.F16, new long[]{3}, TensorData.floats(DType.F16, 1, 2, 3)));
        entries.add(fp8("enc.o.weight", new long[]{2, 2}, ONE, TWO, HALF, MINUS_ONE));
        if (withScales) entries.add(f32("enc.o.scale_weight", new long[]{2}, 2f, 10f));
        Path path = temp.resolve(name);
        SafetensorsWriter.write(path, entries);
        return path;
    }

    private static float[] floats(ByteBuffer b) {
        float[] out = new float[b.remaining() / Float.BYTES];
        b.asFloatBuffer().get(out);
        return out;
    }

    @Test
    void listsTheWeightsWithoutMarkerAndScales() {
        try (SafetensorsFile file = SafetensorsFile.open(scaledFile("t5_scaled.safetensors", true))) {
            assertThat(ScaledFp8Weights.isScaledFp8(file)).isTrue();
            ScaledFp8Weights view = new ScaledFp8Weights(file);
            assertThat(view.names()).containsExactly("enc.q.weight", "enc.norm.weight", "enc.o.weight");
            assertThat(view.info("enc.q.weight").shape()).containsExactly(2, 3);
            assertThatThrownBy(() -> view.info("enc.q.scale_weight")).isInstanceOf(WeightsException.class)
                    .hasMessageContaining("enc.q.scale_weight");
            assertThat(view.location()).contains("t5_scaled.safetensors");
        }
    }

    @Test
    void weightsAreTheFp8ValuesTimesTheirScale() {
        try (SafetensorsFile file = SafetensorsFile.open(scaledFile("t5_scaled.safetensors", true))) {
            ScaledFp8Weights view = new ScaledFp8Weights(file);
            assertThat(floats(view.float32("enc.q.weight"))).containsExactly(0.25f, 0.5f, 0.375f, -0.25f, 0.125f, 0f);
            // one scale per output row
            assertThat(floats(view.float32("enc.o.weight"))).containsExactly(2f, 4f, 5f, -10f);
            // no scale: as stored
            assertThat(floats(view.float32("enc.norm.weight"))).containsExactly(1f, 2f, 3f);
        }
    }

    @Test
    void anFp8FileMissingItsScalesNamesFileAndTensor() {
        Path path = scaledFile("t5_no_scales.safetensors", false);
        try (SafetensorsFile file = SafetensorsFile.open(path)) {
            assertThatThrownBy(() -> new ScaledFp8Weights(file))
                    .isInstanceOf(WeightsException.class)
                    .hasMessageContaining(path.toString())
                    .hasMessageContaining("tensor 'enc.q.weight' is F8_E4M3 without a scale 'enc.q.scale_weight'")
                    .hasMessageContaining("(and 1 more fp8 tensors)")
                    .hasMessageContaining("missing its scales");
        }
    }

    @Test
    void aScaleOfTheWrongSizeIsNamed() {
        Path path = temp.resolve("bad_scale.safetensors");
        SafetensorsWriter.write(path, List.of(fp8("scaled_fp8", new long[]{0}),
                fp8("enc.q.weight", new long[]{2, 3}, ONE, TWO, ONE_AND_HALF, MINUS_ONE, HALF, ZERO),
                f32("enc.q.scale_weight", new long[]{3}, 1, 2, 3)));
        try (SafetensorsFile file = SafetensorsFile.open(path)) {
            assertThatThrownBy(() -> new ScaledFp8Weights(file))
                    .isInstanceOf(WeightsException.class)
                    .hasMessageContaining(path.toString())
                    .hasMessageContaining("tensor 'enc.q.scale_weight'")
                    .hasMessageContaining("one per row (2)");
        }
    }

    @Test
    void theMarkerMayCarryAPrefixAndIsAbsentFromOtherFiles() {
        Path prefixed = temp.resolve("prefixed.safetensors");
        SafetensorsWriter.write(prefixed, List.of(fp8("text_encoders.t5xxl.transformer.scaled_fp8", new long[]{0}),
                fp8("text_encoders.t5xxl.transformer.enc.q.weight", new long[]{1, 2}, ONE, TWO),
                f32("text_encoders.t5xxl.transformer.enc.q.scale_weight", new long[0], 3f)));
        Path plain = temp.resolve("plain.safetensors");
        SafetensorsWriter.write(plain, List.of(fp8("enc.q.weight", new long[]{1, 2}, ONE, TWO)));
        try (SafetensorsFile withPrefix = SafetensorsFile.open(prefixed); SafetensorsFile unscaled = SafetensorsFile.open(plain)) {
            assertThat(ScaledFp8Weights.isScaledFp8(withPrefix)).isTrue();
            ScaledFp8Weights view = new ScaledFp8Weights(withPrefix);
            assertThat(view.names()).containsExactly("text_encoders.t5xxl.transformer.enc.q.weight");
            assertThat(floats(view.float32("text_encoders.t5xxl.transformer.enc.q.weight"))).containsExactly(3f, 6f);
            assertThat(ScaledFp8Weights.isScaledFp8(unscaled)).isFalse();
        }
    }
}
