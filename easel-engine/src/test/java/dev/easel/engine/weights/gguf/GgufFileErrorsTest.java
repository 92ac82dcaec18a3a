package dev.easel.engine.weights.gguf;

import dev.easel.engine.graph.GraphBuilder;
import dev.easel.engine.graph.Value;
import dev.easel.engine.quant.BlockFormat;
import dev.easel.engine.runtime.OnnxModel;
import dev.easel.engine.runtime.RuntimeOptions;
import dev.easel.engine.weights.WeightsException;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Bad files are refused with a message naming the file (and the tensor, where one is at fault). Each case starts
 * from a good file of one tensor "w" [2, 32] Q8_0 and no metadata, whose layout is fixed by the format:
 * magic (0), version (4), tensor count (8), metadata count (16), then the tensor info: name length (24),
 * name (32), rank (33), dims (37, 45), type (53), offset (57); data from 96 (65 rounded up to 32).
 */
class GgufFileErrorsTest {
    private static final int VERSION = 4, TYPE = 53, OFFSET = 57, DATA = 96;

    @TempDir
    Path temp;
    private Path file;
    private byte[] good;

    @BeforeEach
    void writeAGoodFile() throws IOException {
        file = temp.resolve("model.gguf");
        GgufWriter.write(file, Map.of(), List.of(GgufWriter.Entry.of("w", GgufType.Q8_0, new long[]{2, 32}, GgufFileTest.gaussian(64, 5))));
        good = Files.readAllBytes(file);
        try (GgufFile f = GgufFile.open(file)) {
            // the layout the cases below rely on
            if (f.tensor("w").offset() != DATA || good.length != DATA + 2 * 34 + 28) throw new IllegalStateException("layout changed");
        }
    }

    private Path withInt(int at, int value) throws IOException {
        byte[] b = good.clone();
        ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).putInt(at, value);
        return Files.write(file, b);
    }

    private Path withLong(int at, long value) throws IOException {
        byte[] b = good.clone();
        ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).putLong(at, value);
        return Files.write(file, b);
    }

    @Test
    void badMagic() throws IOException {
        byte[] b = good.clone();
        b[0] = 'X';
        Files.write(file, b);
        assertThatThrownBy(() -> GgufFile.open(file)).isInstanceOf(WeightsException.class)
                .hasMessageContaining(file.toString()).hasMessageContaining("not a GGUF file");
    }

    @Test
    void unsupportedVersion() throws IOException {
        withInt(VERSION, 1);
        assertThatThrownBy(() -> GgufFile.open(file)).isInstanceOf(WeightsException.class)
                .hasMessageContaining(file.toString()).hasMessageContaining("version 1");
    }

    @Test
    void truncatedHeader() throws IOException {
        Files.write(file, Arrays.copyOf(good, 40));
        assertThatThrownBy(() -> GgufFile.open(file)).isInstanceOf(WeightsException.class)
                .hasMessageContaining(file.toString()).hasMessageContaining("truncated").hasMessageContaining("tensor 'w'");
    }

    @Test
    void truncatedData() throws IOException {
        Files.write(file, Arrays.copyOf(good, DATA + 34));
        assertThatThrownBy(() -> GgufFile.open(file)).isInstanceOf(WeightsException.class)
                .hasMessageContaining(file.toString()).hasMessageContaining("'w'").hasMessageContaining("truncated");
    }

    @Test
    void unknownType() throws IOException {
        withInt(TYPE, 99);
        assertThatThrownBy(() -> GgufFile.open(file)).isInstanceOf(WeightsException.class)
                .hasMessageContaining(file.toString()).hasMessageContaining("'w'").hasMessageContaining("unknown ggml type id 99");
    }

    @Test
    void aKnownButUnsupportedTypeIsNamed() throws IOException {
        withInt(TYPE, 10);
        assertThatThrownBy(() -> GgufFile.open(file)).isInstanceOf(WeightsException.class)
                .hasMessageContaining(file.toString()).hasMessageContaining("'w'").hasMessageContaining("Q2_K");
    }

    @Test
    void offsetOutOfRange() throws IOException {
        withLong(OFFSET, 1024);
        assertThatThrownBy(() -> GgufFile.open(file)).isInstanceOf(WeightsException.class)
                .hasMessageContaining(file.toString()).hasMessageContaining("'w'").hasMessageContaining("out of range");
    }

    @Test
    void misalignedOffset() throws IOException {
        withLong(OFFSET, 4);
        assertThatThrownBy(() -> GgufFile.open(file)).isInstanceOf(WeightsException.class)
                .hasMessageContaining(file.toString()).hasMessageContaining("'w'").hasMessageContaining("alignment 32");
    }

    @Test
    void aRowThatIsNotWholeBlocks() throws IOException {
        withLong(37, 48);  // ne[0] = 48 values per row: one and a half Q8_0 blocks
        assertThatThrownBy(() -> GgufFile.open(file)).isInstanceOf(WeightsException.class)
                .hasMessageContaining(file.toString()).hasMessageContaining("'w'").hasMessageContaining("not whole Q8_0 blocks");
    }

    @Test
    void aTensorOfTheWrongShapeForTheModel() {
        GraphBuilder g = new GraphBuilder("wrong");
        Value x = g.floatInput("x", 1, 64);
        g.output(g.quantizedLinear(x, "fc", 64, 4, false, BlockFormat.INT8, 0), "y");
        // the model wants fc.weight [4, 64]; the file has it as [2, 32]
        try (GgufFile f = GgufFile.open(renamed("fc.weight"))) {
            assertThatThrownBy(() -> OnnxModel.create(g, OnnxModel.WeightProvider.of(f, g), RuntimeOptions.defaults()))
                    .isInstanceOf(WeightsException.class).hasMessageContaining(f.path().toString())
                    .hasMessageContaining("'fc.weight'").hasMessageContaining("[2, 32]").hasMessageContaining("[4, 64]");
        }
    }

    private Path renamed(String name) {
        Path other = temp.resolve("named.gguf");
        GgufWriter.write(other, Map.of(), List.of(GgufWriter.Entry.of(name, GgufType.Q8_0, new long[]{2, 32}, GgufFileTest.gaussian(64, 6))));
        return other;
    }
}
