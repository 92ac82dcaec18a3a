package dev.easel.engine.weights;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class DerivedWeightsTest {
    @TempDir
    Path temp;

    /** OpenCLIP-like: q;k;v stacked in a [6, 2] weight and a [6] bias, a [2, 3] projection stored transposed. */
    private SafetensorsFile file(DType dtype) {
        Path path = temp.resolve("openclip-" + dtype + ".safetensors");
        float[] inProj = new float[12];
        for (int i = 0; i < inProj.length; i++) inProj[i] = i + 1;
        SafetensorsWriter.write(path, List.of(
                new SafetensorsWriter.Entry("attn.in_proj_weight", dtype, new long[]{6, 2}, TensorData.floats(dtype, inProj)),
                new SafetensorsWriter.Entry("attn.in_proj_bias", dtype, new long[]{6}, TensorData.floats(dtype, -1, -2, -3, -4, -5, -6)),
                new SafetensorsWriter.Entry("text_projection", dtype, new long[]{2, 3}, TensorData.floats(dtype, 1, 2, 3, 4, 5, 6))));
        return SafetensorsFile.open(path);
    }

    private static Map<String, DerivedWeights.Derivation> openClipLayer() {
        Map<String, DerivedWeights.Derivation> d = new LinkedHashMap<>();
        d.put("q_proj.weight", new DerivedWeights.Rows("attn.in_proj_weight", 0, 2));
        d.put("k_proj.weight", new DerivedWeights.Rows("attn.in_proj_weight", 2, 2));
        d.put("v_proj.weight", new DerivedWeights.Rows("attn.in_proj_weight", 4, 2));
        d.put("v_proj.bias", new DerivedWeights.Rows("attn.in_proj_bias", 4, 2));
        d.put("text_projection.weight", new DerivedWeights.Transposed("text_projection"));
        d.put("bias", new DerivedWeights.AsStored("attn.in_proj_bias"));
        return d;
    }

    private static float[] floats(ByteBuffer b) {
        float[] out = new float[b.remaining() / 4];
        b.asFloatBuffer().get(out);
        return out;
    }

    @Test
    void servesRowRangesTransposesAndStoredTensors() {
        for (DType dtype : List.of(DType.F16, DType.F32, DType.BF16)) {
            try (SafetensorsFile base = file(dtype)) {
                DerivedWeights view = new DerivedWeights(base, "text encoder", openClipLayer());
                assertThat(view.names()).containsExactly("q_proj.weight", "k_proj.weight", "v_proj.weight", "v_proj.bias",
                        "text_projection.weight", "bias");
                assertThat(floats(view.float32("q_proj.weight"))).containsExactly(1, 2, 3, 4);
                assertThat(floats(view.float32("k_proj.weight"))).containsExactly(5, 6, 7, 8);
                assertThat(floats(view.float32("v_proj.weight"))).containsExactly(9, 10, 11, 12);
                assertThat(floats(view.float32("v_proj.bias"))).containsExactly(-5, -6);
                assertThat(floats(view.float32("text_projection.weight"))).containsExactly(1, 4, 2, 5, 3, 6);
                assertThat(view.float32("bias")).isEqualTo(base.float32("attn.in_proj_bias"));

                TensorInfo k = view.info("k_proj.weight");
                TensorInfo stored = base.info("attn.in_proj_weight");
                assertThat(k.name()).isEqualTo("k_proj.weight");
                assertThat(k.shape()).containsExactly(2, 2);
                assertThat(k.dtype()).isEqualTo(dtype);
                assertThat(k.byteOffset()).isEqualTo(stored.byteOffset() + 2L * 2 * dtype.byteSize());
                assertThat(k.byteLength()).isEqualTo(4L * dtype.byteSize());
                assertThat(view.info("text_projection.weight").shape()).containsExactly(3, 2);
                assertThat(view.info("v_proj.bias").shape()).containsExactly(2);
            }
        }
    }

    @Test
    void derivesOverAnotherViewAsOverAFile() {
        try (SafetensorsFile base = file(DType.F16)) {
            RenamedWeights renamed = new RenamedWeights(base, "prefixed", Map.of(
                    "m.attn.in_proj_weight", "attn.in_proj_weight", "m.text_projection", "text_projection"), Map.of());
            DerivedWeights view = new DerivedWeights(renamed, "text encoder", Map.of(
                    "v_proj.weight", new DerivedWeights.Rows("m.attn.in_proj_weight", 4, 2),
                    "text_projection.weight", new DerivedWeights.Transposed("m.text_projection")));
            assertThat(floats(view.float32("v_proj.weight"))).containsExactly(9, 10, 11, 12);
            assertThat(floats(view.float32("text_projection.weight"))).containsExactly(1, 4, 2, 5, 3, 6);
        }
    }

    /** FLUX.1's final modulation: (shift, scale) rows stored, (scale, shift) read; from a file and over a view. */
    @Test
    void servesRowRangesOneAfterTheOther() {
        for (DType dtype : List.of(DType.F16, DType.F32)) {
            try (SafetensorsFile base = file(dtype)) {
                DerivedWeights view = new DerivedWeights(base, "swapped", Map.of(
                        "w", DerivedWeights.RowRanges.swappedHalves("attn.in_proj_weight", 6),
                        "b", DerivedWeights.RowRanges.swappedHalves("attn.in_proj_bias", 6),
                        "picked", new DerivedWeights.RowRanges("attn.in_proj_weight", List.of(
                                new DerivedWeights.Rows("attn.in_proj_weight", 5, 1), new DerivedWeights.Rows("attn.in_proj_weight", 0, 2)))));
                assertThat(floats(view.float32("w"))).containsExactly(7, 8, 9, 10, 11, 12, 1, 2, 3, 4, 5, 6);
                assertThat(floats(view.float32("b"))).containsExactly(-4, -5, -6, -1, -2, -3);
                assertThat(floats(view.float32("picked"))).containsExactly(11, 12, 1, 2, 3, 4);
                assertThat(view.info("picked").shape()).containsExactly(3, 2);
                assertThat(view.info("w").shape()).containsExactly(6, 2);
                assertThat(view.info("w").byteLength()).isEqualTo(base.info("attn.in_proj_weight").byteLength());
            }
        }
        try (SafetensorsFile base = file(DType.F16)) {
            RenamedWeights renamed = new RenamedWeights(base, "prefixed", Map.of("m.b", "attn.in_proj_bias"), Map.of());
            DerivedWeights view = new DerivedWeights(renamed, "swapped", Map.of("b", DerivedWeights.RowRanges.swappedHalves("m.b", 6)));
            assertThat(floats(view.float32("b"))).containsExactly(-4, -5, -6, -1, -2, -3);
            assertThatThrownBy(() -> new DerivedWeights(base, "swapped", Map.of(
                    "w", DerivedWeights.RowRanges.swappedHalves("attn.in_proj_weight", 8))))
                    .isInstanceOf(WeightsException.class).hasMessageContaining("attn.in_proj_weight").hasMessageContaining("'w'");
            assertThatThrownBy(() -> DerivedWeights.RowRanges.swappedHalves("w", 3)).isInstanceOf(IllegalArgumentException.class);
            assertThatThrownBy(() -> new DerivedWeights.RowRanges("w", List.of(new DerivedWeights.Rows("v", 0, 1))))
                    .isInstanceOf(IllegalArgumentException.class);
        }
    }

    @Test
    void transposesMatricesLargerThanOneBlock() {
        Path path = temp.resolve("big.safetensors");
        int rows = 70;
        int cols = 131;
        float[] values = new float[rows * cols];
        for (int i = 0; i < values.length; i++) values[i] = i;
        SafetensorsWriter.write(path, List.of(new SafetensorsWriter.Entry("m", DType.F32, new long[]{rows, cols},
                TensorData.floats(DType.F32, values))));
        try (SafetensorsFile base = SafetensorsFile.open(path)) {
            float[] t = floats(new DerivedWeights(base, "t", Map.of("mt", new DerivedWeights.Transposed("m"))).float32("mt"));
            for (int i = 0; i < rows; i++) {
                for (int j = 0; j < cols; j++) assertThat(t[j * rows + i]).isEqualTo(values[i * cols + j]);
            }
        }
    }

    @Test
    void rejectsWhatCannotBeDerived() {
        try (SafetensorsFile base = file(DType.F16)) {
            assertThatThrownBy(() -> new DerivedWeights(base, "text encoder", Map.of(
                    "q_proj.weight", new DerivedWeights.Rows("attn.in_proj_weight", 4, 4))))
                    .isInstanceOf(WeightsException.class)
                    .hasMessageContaining("attn.in_proj_weight").hasMessageContaining("[6, 2]").hasMessageContaining("q_proj.weight");
            assertThatThrownBy(() -> new DerivedWeights(base, "text encoder", Map.of(
                    "b", new DerivedWeights.Transposed("attn.in_proj_bias"))))
                    .isInstanceOf(WeightsException.class).hasMessageContaining("not a matrix");
            assertThatThrownBy(() -> new DerivedWeights(base, "text encoder", Map.of(
                    "x", new DerivedWeights.AsStored("attn.out_proj.weight"))))
                    .isInstanceOf(WeightsException.class)
                    .hasMessageContaining("attn.out_proj.weight").hasMessageContaining("text encoder").hasMessageContaining(base.location());
            DerivedWeights view = new DerivedWeights(base, "text encoder", openClipLayer());
            assertThatThrownBy(() -> view.info("attn.in_proj_weight")).isInstanceOf(WeightsException.class)
                    .hasMessageContaining("not in this view");
            assertThatThrownBy(() -> new DerivedWeights.Rows("w", -1, 2)).isInstanceOf(IllegalArgumentException.class);
            view.close();
            assertThat(base.float32("attn.in_proj_bias").getFloat(0)).isEqualTo(-1f); // the base stays open
        }
    }
}
