package dev.easel.engine.weights;

import dev.easel.engine.tensor.FloatTensor;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.channels.WritableByteChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * Writes {@code .safetensors} files, streaming each tensor's bytes from its {@link TensorData} straight to
 * disk. The file appears under its name only once complete (written beside it, then moved).
 */
public final class SafetensorsWriter {
    private static final ObjectMapper JSON = new ObjectMapper();
    /** Data starts 8-byte aligned, as the reference implementation pads its header. */
    private static final int HEADER_ALIGNMENT = 8;

    private SafetensorsWriter() {
    }

    /** One tensor to write. */
    public record Entry(String name, DType dtype, long[] shape, TensorData data) {
        public Entry {
            Objects.requireNonNull(name, "name");
            Objects.requireNonNull(dtype, "dtype");
            Objects.requireNonNull(data, "data");
            shape = shape.clone();
        }

        @Override
        public long[] shape() {
            return shape.clone();
        }

        public long byteLength() {
            return Math.multiplyExact(FloatTensor.elementCount(shape), (long) dtype.byteSize());
        }
    }

    public static void write(Path file, List<Entry> entries) {
        write(file, entries, Map.of());
    }

    public static void write(Path file, List<Entry> entries, Map<String, String> metadata) {
        byte[] header = header(file, entries, metadata);
        Path partial = file.resolveSibling(file.getFileName() + ".partial");
        try {
            try (FileChannel channel = FileChannel.open(partial, StandardOpenOption.CREATE,
                    StandardOpenOption.TRUNCATE_EXISTING, StandardOpenOption.WRITE)) {
                writeAll(channel, ByteBuffer.allocate(Long.BYTES).order(ByteOrder.LITTLE_ENDIAN).putLong(0, header.length));
                writeAll(channel, ByteBuffer.wrap(header));
                for (Entry e : entries) {
                    CountingChannel counted = new CountingChannel(channel);
                    e.data().writeTo(counted);
                    if (counted.written != e.byteLength()) {
                        throw WeightsException.forTensor(file, e.name(), "was given " + counted.written + " bytes of data, but "
                                + e.dtype() + " " + Arrays.toString(e.shape()) + " needs " + e.byteLength());
                    }
                }
            }
            Files.move(partial, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            throw WeightsException.inFile(file, "cannot be written: " + e, e);
        } finally {
            try {
                Files.deleteIfExists(partial);
            } catch (IOException ignored) {
                // Nothing more to do: the write itself already failed or succeeded.
            }
        }
    }

    private static byte[] header(Path file, List<Entry> entries, Map<String, String> metadata) {
        ObjectNode root = JSON.createObjectNode();
        if (!metadata.isEmpty()) {
            ObjectNode meta = root.putObject(SafetensorsHeader.METADATA_KEY);
            metadata.forEach(meta::put);
        }
        Set<String> seen = new HashSet<>();
        long offset = 0;
        for (Entry e : entries) {
            if (e.name().equals(SafetensorsHeader.METADATA_KEY) || !seen.add(e.name())) {
                throw WeightsException.forTensor(file, e.name(), "is named twice or uses a reserved name");
            }
            ObjectNode t = root.putObject(e.name());
            t.put("dtype", e.dtype().safetensorsName());
            ArrayNode shape = t.putArray("shape");
            for (long d : e.shape()) shape.add(d);
            long end = offset + e.byteLength();
            t.putArray("data_offsets").add(offset).add(end);
            offset = end;
        }
        byte[] json = root.toString().getBytes(StandardCharsets.UTF_8);
        int padded = (json.length + HEADER_ALIGNMENT - 1) / HEADER_ALIGNMENT * HEADER_ALIGNMENT;
        byte[] header = Arrays.copyOf(json, padded);
        Arrays.fill(header, json.length, padded, (byte) ' ');
        return header;
    }

    private static void writeAll(WritableByteChannel channel, ByteBuffer buffer) throws IOException {
        while (buffer.hasRemaining()) channel.write(buffer);
    }

    /** Counts what a tensor's data writes, to catch a supplier that writes too little or too much. */
    private static final class CountingChannel implements WritableByteChannel {
        private final WritableByteChannel target;
        private long written;

        CountingChannel(WritableByteChannel target) {
            this.target = target;
        }

        @Override
        public int write(ByteBuffer src) throws IOException {
            int n = target.write(src);
            written += n;
            return n;
        }

        @Override
        public boolean isOpen() {
            return target.isOpen();
        }

        @Override
        public void close() {
            // The writer owns the file channel.
        }
    }
}
