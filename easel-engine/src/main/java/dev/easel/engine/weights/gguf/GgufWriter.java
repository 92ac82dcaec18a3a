package dev.easel.engine.weights.gguf;

import dev.easel.engine.weights.TensorData;
import dev.easel.engine.weights.WeightsException;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * Writes GGUF version 3 files from fp32 values, quantizing each tensor to its type as it streams to disk (a
 * few rows at a time), for tests and for benchmark checkpoints of real size. Metadata values take the types
 * {@link GgufValues} lists (Integer as INT32, Long as INT64, ...); {@value GgufFile#ALIGNMENT_KEY} is written
 * as UINT32, as the format requires, and sets the data alignment (32 when absent).
 */
public final class GgufWriter {
    private static final int CHUNK_VALUES = 64 * 1024;

    private GgufWriter() {
    }

    /** One tensor: {@code shape} in row-major (PyTorch) order; the values are drawn in that order. */
    public record Entry(String name, GgufType type, long[] shape, TensorData.FloatChunks values) {
        public Entry {
            Objects.requireNonNull(name, "name");
            Objects.requireNonNull(type, "type");
            Objects.requireNonNull(values, "values");
            shape = shape.clone();
            long rowLength = shape.length == 0 ? 1 : shape[shape.length - 1];
            if (rowLength % type.blockSize() != 0) {
                throw new IllegalArgumentException(name + ": rows of " + rowLength + " values are not whole " + type + " blocks");
            }
        }

        public static Entry of(String name, GgufType type, long[] shape, float... values) {
            float[] copy = values.clone();
            return new Entry(name, type, shape, new TensorData.FloatChunks() {
                private int at;

                @Override
                public void next(float[] chunk, int length) {
                    System.arraycopy(copy, at, chunk, 0, length);
                    at += length;
                }
            });
        }

        @Override
        public long[] shape() {
            return shape.clone();
        }

        long count() {
            long n = 1;
            for (long d : shape) n = Math.multiplyExact(n, d);
            return n;
        }

        long byteLength() {
            return type.byteLength(count());
        }
    }

    public static void write(Path file, Map<String, Object> metadata, List<Entry> entries) {
        long alignment = metadata.get(GgufFile.ALIGNMENT_KEY) instanceof Number n ? n.longValue() : GgufFile.DEFAULT_ALIGNMENT;
        ByteBuffer header = header(file, metadata, entries, alignment);
        Path partial = file.resolveSibling(file.getFileName() + ".partial");
        try {
            try (FileChannel out = FileChannel.open(partial, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING,
                    StandardOpenOption.WRITE)) {
                writeAll(out, header);
                pad(out, alignment);
                for (Entry e : entries) {
                    writeData(out, e);
                    pad(out, alignment);
                }
            }
            Files.move(partial, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            throw WeightsException.inFile(file, "cannot be written: " + e, e);
        } finally {
            try {
                Files.deleteIfExists(partial);
            } catch (IOException ignored) {
                // the write itself already succeeded or failed
            }
        }
    }

    private static ByteBuffer header(Path file, Map<String, Object> metadata, List<Entry> entries, long alignment) {
        long size = 4 + 4 + 8 + 8;
        for (Map.Entry<String, Object> kv : metadata.entrySet()) {
            size += 8 + utf8(kv.getKey()).length + 4 + GgufValues.size(typeOf(kv.getKey(), kv.getValue()), kv.getValue());
        }
        for (Entry e : entries) size += 8 + utf8(e.name()).length + 4 + 8L * e.shape.length + 4 + 8;
        ByteBuffer b = ByteBuffer.allocate(Math.toIntExact(size)).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(GgufFile.MAGIC).putInt(3).putLong(entries.size()).putLong(metadata.size());
        for (Map.Entry<String, Object> kv : metadata.entrySet()) {
            int type = typeOf(kv.getKey(), kv.getValue());
            GgufValues.writeString(b, kv.getKey());
            b.putInt(type);
            GgufValues.write(b, type, kv.getValue());
        }
        Set<String> seen = new HashSet<>();
        long offset = 0;
        for (Entry e : entries) {
            if (!seen.add(e.name())) throw WeightsException.forTensor(file, e.name(), "is named twice");
            GgufValues.writeString(b, e.name());
            b.putInt(e.shape.length);
            for (int d = e.shape.length - 1; d >= 0; d--) b.putLong(e.shape[d]);
            b.putInt(e.type().id()).putLong(offset);
            offset += (e.byteLength() + alignment - 1) / alignment * alignment;
        }
        return b.flip();
    }

    private static int typeOf(String key, Object value) {
        return key.equals(GgufFile.ALIGNMENT_KEY) ? GgufValues.UINT32 : GgufValues.typeOf(value);
    }

    /** Quantizes and writes whole rows at a time, so blocks never straddle a chunk. */
    private static void writeData(FileChannel out, Entry e) throws IOException {
        long rowLength = e.shape.length == 0 ? 1 : e.shape[e.shape.length - 1];
        long count = e.count();
        int rowsPerChunk = (int) Math.max(1, CHUNK_VALUES / Math.max(1, rowLength));
        float[] chunk = new float[Math.toIntExact(Math.min(count, rowsPerChunk * rowLength))];
        ByteBuffer bytes = ByteBuffer.allocate(Math.toIntExact(e.type().byteLength(chunk.length))).order(ByteOrder.LITTLE_ENDIAN);
        for (long done = 0; done < count; ) {
            int n = (int) Math.min(chunk.length, count - done);
            e.values().next(chunk, n);
            bytes.clear();
            e.type().quantize(chunk, 0, n, bytes);
            writeAll(out, bytes.flip());
            done += n;
        }
    }

    private static void pad(FileChannel out, long alignment) throws IOException {
        long position = out.position();
        int padding = (int) ((alignment - position % alignment) % alignment);
        if (padding > 0) writeAll(out, ByteBuffer.allocate(padding));
    }

    private static void writeAll(FileChannel out, ByteBuffer b) throws IOException {
        while (b.hasRemaining()) out.write(b);
    }

    private static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }
}
