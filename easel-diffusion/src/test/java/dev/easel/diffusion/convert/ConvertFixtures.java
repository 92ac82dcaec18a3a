package dev.easel.diffusion.convert;

import dev.easel.engine.tensor.FloatTensor;

import dev.easel.engine.weights.DType;
import dev.easel.engine.weights.SafetensorsWriter;
import dev.easel.engine.weights.TensorData;
import dev.easel.engine.weights.TensorInfo;
import dev.easel.engine.weights.WeightSource;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Compares weight sources and crafts checkpoint files; the reference fixtures themselves are found by
 * {@link dev.easel.diffusion.fixtures.FixtureCase}.
 */
final class ConvertFixtures {
    private ConvertFixtures() {
    }

    /** Same names, same shapes, bit-identical fp32 values. */
    static void assertSameWeights(WeightSource actual, WeightSource expected) {
        assertThat(actual.names()).containsExactlyInAnyOrderElementsOf(expected.names());
        for (String name : expected.names()) {
            TensorInfo a = actual.info(name);
            TensorInfo e = expected.info(name);
            assertThat(a.shape()).as("shape of %s", name).containsExactly(e.shape());
            assertThat(actual.float32(name)).as("values of %s", name).isEqualTo(expected.float32(name));
        }
    }

    /** A file of zero-filled F16 tensors with the given shapes: enough for structure-based detection. */
    static Path craft(Path file, Map<String, long[]> shapes) {
        List<SafetensorsWriter.Entry> entries = new ArrayList<>();
        shapes.forEach((name, shape) -> entries.add(new SafetensorsWriter.Entry(name, DType.F16, shape,
                TensorData.generated(DType.F16, FloatTensor.elementCount(shape), (chunk, n) -> Arrays.fill(chunk, 0, n, 0f)))));
        SafetensorsWriter.write(file, entries);
        return file;
    }
}
