package dev.easel.server.cli;

import dev.easel.engine.weights.SafetensorsFile;
import dev.easel.engine.weights.SafetensorsWriter;
import dev.easel.engine.weights.TensorData;
import dev.easel.engine.weights.TensorInfo;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** Copies of a good checkpoint with one tensor removed or reshaped, as a damaged download would be. */
final class BrokenCheckpoints {
    private BrokenCheckpoints() {
    }

    /** {@code source} without tensor {@code dropped}. */
    static void copyWithout(Path source, Path target, String dropped) {
        try (SafetensorsFile in = SafetensorsFile.open(source)) {
            assertThat(in.hasTensor(dropped)).as(dropped + " in " + source).isTrue();
            List<SafetensorsWriter.Entry> entries = new ArrayList<>();
            for (TensorInfo t : in.tensors()) {
                if (!t.name().equals(dropped)) entries.add(copy(in, t, t.shape()));
            }
            SafetensorsWriter.write(target, entries, in.metadata());
        }
        try (SafetensorsFile out = SafetensorsFile.open(target)) {
            assertThat(out.hasTensor(dropped)).isFalse();
        }
    }

    /**
     * {@code source} with tensor {@code name} stored under another shape of the same element count (its first
     * two axes merged), the way a wrong conversion would store it. Returns the original shape.
     */
    static long[] copyReshaped(Path source, Path target, String name) {
        long[] original;
        try (SafetensorsFile in = SafetensorsFile.open(source)) {
            original = in.info(name).shape();
            assertThat(original.length).as(name + " rank").isGreaterThanOrEqualTo(2);
            long[] reshaped = new long[original.length - 1];
            reshaped[0] = original[0] * original[1];
            System.arraycopy(original, 2, reshaped, 1, original.length - 2);
            List<SafetensorsWriter.Entry> entries = new ArrayList<>();
            for (TensorInfo t : in.tensors()) entries.add(copy(in, t, t.name().equals(name) ? reshaped : t.shape()));
            SafetensorsWriter.write(target, entries, in.metadata());
        }
        return original;
    }

    private static SafetensorsWriter.Entry copy(SafetensorsFile in, TensorInfo t, long[] shape) {
        return new SafetensorsWriter.Entry(t.name(), t.dtype(), shape, TensorData.of(in.bytes(t.name()).asByteBuffer()));
    }
}
