package dev.easel.diffusion.convert;

import dev.easel.engine.weights.DType;
import dev.easel.engine.weights.SafetensorsWriter;
import dev.easel.engine.weights.TensorData;
import dev.easel.engine.weights.TensorInfo;
import dev.easel.engine.weights.WeightSource;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/** Finds the reference fixtures (system property {@code easel.fixtures}) and compares weight sources. */
final class ConvertFixtures {
    private ConvertFixtures() {
    }

    static Path dir() {
        String property = System.getProperty("easel.fixtures");
        if (property == null) throw new IllegalStateException("system property easel.fixtures is not set");
        return Path.of(property);
    }

    /** The family directories that hold a diffusers folder, e.g. {@code sd15/}. */
    static List<Path> families() {
        return list(dir()).stream().filter(p -> Files.isRegularFile(p.resolve("diffusers").resolve(DiffusersFolder.MODEL_INDEX))).toList();
    }

    static List<Path> singleFiles(Path family) {
        Path dir = family.resolve("single_file");
        if (!Files.isDirectory(dir)) return List.of();
        return list(dir).stream().filter(p -> p.toString().endsWith(".safetensors")).toList();
    }

    static List<Path> list(Path dir) {
        try (Stream<Path> s = Files.list(dir)) {
            return s.sorted().toList();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
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
                TensorData.generated(DType.F16, TensorInfo.elementCount(shape), (chunk, n) -> Arrays.fill(chunk, 0, n, 0f)))));
        SafetensorsWriter.write(file, entries);
        return file;
    }
}
