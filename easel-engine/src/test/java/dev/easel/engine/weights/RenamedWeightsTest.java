package dev.easel.engine.weights;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class RenamedWeightsTest {
    @TempDir
    Path temp;

    private SafetensorsFile file() {
        Path path = temp.resolve("ldm.safetensors");
        SafetensorsWriter.write(path, List.of(
                new SafetensorsWriter.Entry("mid.attn_1.q.weight", DType.F16, new long[]{2, 2, 1, 1},
                        TensorData.floats(DType.F16, 1, 2, 3, 4)),
                new SafetensorsWriter.Entry("mid.attn_1.q.bias", DType.F16, new long[]{2}, TensorData.floats(DType.F16, 5, 6))));
        return SafetensorsFile.open(path);
    }

    @Test
    void presentsOtherNamesAndShapesOverTheSameBytes() {
        try (SafetensorsFile base = file()) {
            Map<String, String> names = new LinkedHashMap<>();
            names.put("mid_block.attentions.0.to_q.weight", "mid.attn_1.q.weight");
            names.put("mid_block.attentions.0.to_q.bias", "mid.attn_1.q.bias");
            RenamedWeights view = new RenamedWeights(base, "vae", names,
                    Map.of("mid_block.attentions.0.to_q.weight", new long[]{2, 2}));

            assertThat(view.names()).containsExactly("mid_block.attentions.0.to_q.weight", "mid_block.attentions.0.to_q.bias");
            TensorInfo q = view.info("mid_block.attentions.0.to_q.weight");
            assertThat(q.shape()).containsExactly(2, 2);
            assertThat(q.name()).isEqualTo("mid_block.attentions.0.to_q.weight");
            assertThat(view.info("mid_block.attentions.0.to_q.bias").shape()).containsExactly(2);
            assertThat(view.float32("mid_block.attentions.0.to_q.weight")).isEqualTo(base.float32("mid.attn_1.q.weight"));
            assertThat(view.originalName("mid_block.attentions.0.to_q.bias")).isEqualTo("mid.attn_1.q.bias");
            assertThatThrownBy(() -> view.info("mid.attn_1.q.weight")).isInstanceOf(WeightsException.class)
                    .hasMessageContaining("mid.attn_1.q.weight").hasMessageContaining("vae");
            view.close();
            assertThat(base.float32("mid.attn_1.q.bias").getFloat(4)).isEqualTo(6f); // the base stays open
        }
    }

    @Test
    void aMissingOriginalOrAShapeOfAnotherSizeIsRejected() {
        try (SafetensorsFile base = file()) {
            assertThatThrownBy(() -> new RenamedWeights(base, "vae", Map.of("to_k.weight", "mid.attn_1.k.weight"), Map.of()))
                    .isInstanceOf(WeightsException.class)
                    .hasMessageContaining("mid.attn_1.k.weight").hasMessageContaining("to_k.weight")
                    .hasMessageContaining(base.location());
            assertThatThrownBy(() -> new RenamedWeights(base, "vae", Map.of("to_q.weight", "mid.attn_1.q.weight"),
                    Map.of("to_q.weight", new long[]{3, 2})))
                    .isInstanceOf(WeightsException.class)
                    .hasMessageContaining("mid.attn_1.q.weight").hasMessageContaining("[3, 2]");
        }
    }
}
