package dev.easel.engine.weights;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class MultiFileWeightsTest {
    @TempDir
    Path temp;

    private Path shard(String fileName, String... tensorNames) {
        Path file = temp.resolve(fileName);
        List<SafetensorsWriter.Entry> entries = new java.util.ArrayList<>();
        float value = 1;
        for (String name : tensorNames) {
            entries.add(new SafetensorsWriter.Entry(name, DType.F16, new long[]{2}, TensorData.floats(DType.F16, value, -value)));
            value++;
        }
        SafetensorsWriter.write(file, entries);
        return file;
    }

    @Test
    void shardedCheckpointIsReadThroughItsIndex() throws IOException {
        shard("model-00001-of-00002.safetensors", "a.weight", "b.weight");
        shard("model-00002-of-00002.safetensors", "c.weight");
        Path index = Files.writeString(temp.resolve("model.safetensors.index.json"), """
                {"metadata": {"total_size": 12},
                 "weight_map": {"a.weight": "model-00001-of-00002.safetensors",
                                "b.weight": "model-00001-of-00002.safetensors",
                                "c.weight": "model-00002-of-00002.safetensors"}}""");
        try (MultiFileWeights weights = MultiFileWeights.openIndex(index)) {
            assertThat(weights.names()).containsExactly("a.weight", "b.weight", "c.weight");
            assertThat(weights.info("c.weight").dtype()).isEqualTo(DType.F16);
            assertThat(weights.float32("b.weight").getFloat(4)).isEqualTo(-2f);
            assertThat(weights.float32("c.weight").getFloat(0)).isEqualTo(1f);
            assertThatThrownBy(() -> weights.info("d.weight")).isInstanceOf(WeightsException.class)
                    .hasMessageContaining("d.weight").hasMessageContaining(index.toString());
        }
    }

    @Test
    void indexThatMisplacesATensorOrNamesAMissingShardIsRejected() throws IOException {
        shard("one.safetensors", "a.weight");
        Path wrong = Files.writeString(temp.resolve("wrong.index.json"), """
                {"weight_map": {"a.weight": "one.safetensors", "z.weight": "one.safetensors"}}""");
        assertThatThrownBy(() -> MultiFileWeights.openIndex(wrong)).isInstanceOf(WeightsException.class)
                .hasMessageContaining("z.weight").hasMessageContaining("one.safetensors");
        Path missing = Files.writeString(temp.resolve("missing.index.json"), """
                {"weight_map": {"a.weight": "two.safetensors"}}""");
        assertThatThrownBy(() -> MultiFileWeights.openIndex(missing)).isInstanceOf(WeightsException.class)
                .hasMessageContaining("two.safetensors").hasMessageContaining(missing.toString());
    }

    @Test
    void aTensorInTwoFilesIsAnErrorNamingBoth() {
        Path first = shard("first.safetensors", "x.weight", "shared.weight");
        Path second = shard("second.safetensors", "shared.weight");
        assertThatThrownBy(() -> MultiFileWeights.open(List.of(first, second))).isInstanceOf(WeightsException.class)
                .hasMessageContaining("shared.weight").hasMessageContaining(first.toString()).hasMessageContaining(second.toString());
    }

    @Test
    void componentsInSeparateFilesAreUnited() {
        Path unet = shard("unet.safetensors", "conv_in.weight");
        Path vae = shard("vae.safetensors", "decoder.conv_in.weight");
        try (MultiFileWeights weights = MultiFileWeights.open(List.of(unet, vae))) {
            assertThat(weights.names()).containsExactly("conv_in.weight", "decoder.conv_in.weight");
            assertThat(weights.parts()).hasSize(2);
        }
    }
}
