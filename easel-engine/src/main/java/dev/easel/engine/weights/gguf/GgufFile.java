package dev.easel.engine.weights.gguf;

import dev.easel.engine.quant.BlockFormat;
import dev.easel.engine.quant.QuantizedWeight;
import dev.easel.engine.weights.DType;
import dev.easel.engine.weights.MappedPages;
import dev.easel.engine.weights.TensorInfo;
import dev.easel.engine.weights.WeightSource;
import dev.easel.engine.weights.WeightsException;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * A memory-mapped GGUF file (format versions 2 and 3, little-endian): header, typed metadata, tensor infos, and
 * the tensor data, read in place. Tensors keep their stored names; shapes are given in row-major (PyTorch)
 * order, the reverse of ggml's dims, or as {@code comfy.gguf.orig_shape.<name>} says where the file has it.
 *
 * <p>{@link #float32} dequantizes any supported type. {@link #quantized} hands Q8_0, Q4_0 and Q5_0 blocks to
 * MatMulNBits as they are stored (the same integers, fp16 scales widened to fp32: no second rounding) where
 * the asked format can hold them; other types are dequantized and requantized by the caller.
 * Safe to read from several threads.
 */
public final class GgufFile implements WeightSource {
    /** "GGUF" read as a little-endian uint32. */
    static final int MAGIC = 0x46554747;
    public static final long DEFAULT_ALIGNMENT = 32;
    public static final String ALIGNMENT_KEY = "general.alignment";
    /** ComfyUI-GGUF's record of a tensor's shape before it was flattened for quantization. */
    public static final String ORIGINAL_SHAPE_PREFIX = "comfy.gguf.orig_shape.";
    private static final int MAX_DIMS = 8;
    private static final ValueLayout.OfFloat NATIVE_FLOAT = ValueLayout.JAVA_FLOAT_UNALIGNED;

    private final Path path;
    private final Arena arena;
    private final MemorySegment file;
    private final int version;
    private final Map<String, Object> metadata;
    private final long alignment;
    private final Map<String, GgufTensor> tensors;
    private volatile boolean closed;

    private GgufFile(Path path, Arena arena, MemorySegment file, int version, Map<String, Object> metadata,
                     long alignment, Map<String, GgufTensor> tensors) {
        this.path = path;
        this.arena = arena;
        this.file = file;
        this.version = version;
        this.metadata = metadata;
        this.alignment = alignment;
        this.tensors = tensors;
    }

    public static GgufFile open(Path path) {
        Arena arena = Arena.ofShared();
        try (FileChannel channel = FileChannel.open(path, StandardOpenOption.READ)) {
            long size = channel.size();
            MemorySegment file = size == 0 ? arena.allocate(0)
                    : channel.map(FileChannel.MapMode.READ_ONLY, 0, size, arena);
            return parse(path, arena, file);
        } catch (IOException e) {
            arena.close();
            throw WeightsException.inFile(path, "cannot be read: " + e, e);
        } catch (RuntimeException e) {
            arena.close();
            throw e;
        }
    }

    private static GgufFile parse(Path path, Arena arena, MemorySegment file) {
        Cursor in = new Cursor(path, file);
        if (file.byteSize() < 4 || in.u32("the magic") != MAGIC) {
            throw WeightsException.inFile(path, "is not a GGUF file: it does not start with the magic 'GGUF'");
        }
        int version = in.u32("the version");
        if (version != 2 && version != 3) {
            throw WeightsException.inFile(path, "has GGUF version " + Integer.toUnsignedString(version)
                    + "; this reader supports versions 2 and 3");
        }
        long tensorCount = in.count("the tensor count", 8 + 4 + 8 + 4 + 8);
        long kvCount = in.count("the metadata count", 8 + 4 + 1);
        Map<String, Object> metadata = new LinkedHashMap<>();
        for (long i = 0; i < kvCount; i++) {
            String key = in.string("metadata key " + i);
            metadata.put(key, in.value(in.u32("the type of metadata '" + key + "'"), "metadata '" + key + "'"));
        }
        long alignment = alignment(path, metadata);
        List<long[]> dimsList = new ArrayList<>();
        List<Object[]> raw = new ArrayList<>();
        for (long i = 0; i < tensorCount; i++) {
            String name = in.string("the name of tensor " + i);
            int rank = in.u32("the rank of tensor '" + name + "'");
            if (rank < 0 || rank > MAX_DIMS) {
                throw WeightsException.forTensor(path, name, "has " + Integer.toUnsignedString(rank) + " dimensions (at most " + MAX_DIMS + ")");
            }
            long[] dims = new long[rank];
            for (int d = 0; d < rank; d++) {
                dims[d] = in.u64("a dimension of tensor '" + name + "'");
                if (dims[d] < 0) throw WeightsException.forTensor(path, name, "has a negative dimension " + dims[d]);
            }
            int typeId = in.u32("the type of tensor '" + name + "'");
            long offset = in.u64("the data offset of tensor '" + name + "'");
            dimsList.add(dims);
            raw.add(new Object[]{name, typeId, offset});
        }
        long dataStart = (in.position + alignment - 1) / alignment * alignment;
        Map<String, GgufTensor> tensors = new LinkedHashMap<>();
        for (int i = 0; i < raw.size(); i++) {
            String name = (String) raw.get(i)[0];
            GgufTensor t = tensor(path, file.byteSize(), name, dimsList.get(i), (Integer) raw.get(i)[1],
                    (Long) raw.get(i)[2], dataStart, alignment, metadata);
            if (tensors.putIfAbsent(name, t) != null) throw WeightsException.forTensor(path, name, "is named twice");
        }
        return new GgufFile(path, arena, file, version, Collections.unmodifiableMap(metadata), alignment,
                Collections.unmodifiableMap(tensors));
    }

    private static long alignment(Path path, Map<String, Object> metadata) {
        Object value = metadata.get(ALIGNMENT_KEY);
        if (value == null) return DEFAULT_ALIGNMENT;
        if (!(value instanceof Integer || value instanceof Long) || ((Number) value).longValue() <= 0
                || Long.bitCount(((Number) value).longValue()) != 1) {
            throw WeightsException.inFile(path, ALIGNMENT_KEY + " is " + value + ", not a power of two");
        }
        return ((Number) value).longValue();
    }

    private static GgufTensor tensor(Path path, long fileSize, String name, long[] dims, int typeId, long offset,
                                     long dataStart, long alignment, Map<String, Object> metadata) {
        GgufType type = GgufType.fromId(typeId).orElseThrow(() -> {
            String known = GgufType.unsupportedName(typeId);
            return WeightsException.forTensor(path, name, known != null
                    ? "has ggml type " + known + " (id " + typeId + "), which this reader does not support"
                    : "has unknown ggml type id " + Integer.toUnsignedString(typeId));
        });
        long count = 1;
        for (long d : dims) count = Math.multiplyExact(count, d);
        long rowLength = dims.length == 0 ? 1 : dims[0];
        if (rowLength % type.blockSize() != 0) {
            throw WeightsException.forTensor(path, name, "has rows of " + rowLength + " values, not whole " + type
                    + " blocks of " + type.blockSize());
        }
        long byteLength = type.byteLength(count);
        if (offset < 0 || offset % alignment != 0) {
            throw WeightsException.forTensor(path, name, "has data offset " + Long.toUnsignedString(offset)
                    + ", not a multiple of the file's alignment " + alignment);
        }
        if (offset > fileSize - dataStart - byteLength) {
            throw WeightsException.forTensor(path, name, "has data at offset " + offset + " + " + byteLength
                    + " bytes, past the end of the data (" + Math.max(0, fileSize - dataStart)
                    + " bytes): the offset is out of range or the file is truncated");
        }
        long[] shape = new long[dims.length];
        for (int d = 0; d < dims.length; d++) shape[d] = dims[dims.length - 1 - d];
        Object original = metadata.get(ORIGINAL_SHAPE_PREFIX + name);
        if (original != null) shape = originalShape(path, name, original, count);
        return new GgufTensor(name, type, dims, shape, dataStart + offset, byteLength);
    }

    private static long[] originalShape(Path path, String name, Object value, long count) {
        if (!(value instanceof List<?> list) || !list.stream().allMatch(o -> o instanceof Integer || o instanceof Long)) {
            throw WeightsException.forTensor(path, name, "has " + ORIGINAL_SHAPE_PREFIX + name + " = " + value + ", not a list of integers");
        }
        long[] shape = list.stream().mapToLong(o -> ((Number) o).longValue()).toArray();
        long n = 1;
        for (long d : shape) n *= d;
        if (n != count) {
            throw WeightsException.forTensor(path, name, "has " + count + " values, but " + ORIGINAL_SHAPE_PREFIX + name
                    + " = " + Arrays.toString(shape) + " holds " + n);
        }
        return shape;
    }

    // ---- accessors ----------------------------------------------------------------------------

    public Path path() {
        return path;
    }

    public int version() {
        return version;
    }

    /** Every metadata entry in file order, typed as described in {@link GgufValues}. */
    public Map<String, Object> metadata() {
        return metadata;
    }

    public Optional<String> metadataString(String key) {
        return metadata.get(key) instanceof String s ? Optional.of(s) : Optional.empty();
    }

    /** The tensor data alignment ({@value #ALIGNMENT_KEY}, 32 when absent). */
    public long alignment() {
        return alignment;
    }

    public List<GgufTensor> tensors() {
        return List.copyOf(tensors.values());
    }

    public GgufTensor tensor(String name) {
        GgufTensor t = tensors.get(name);
        if (t == null) throw WeightsException.forTensor(path, name, "is not in this file (" + tensors.size() + " tensors)");
        return t;
    }

    @Override
    public String location() {
        return path.toString();
    }

    @Override
    public Set<String> names() {
        return tensors.keySet();
    }

    /**
     * The tensor's shape and stored byte range. Its dtype is F32, F16 or BF16 for those types; for block formats,
     * whose bytes are opaque blocks, it is U8 (see {@link #tensor} for the GGUF type).
     */
    @Override
    public TensorInfo info(String name) {
        GgufTensor t = tensor(name);
        DType dtype = t.type().floatType().orElse(DType.U8);
        return new TensorInfo(name, dtype, t.shape(), t.offset(), t.byteLength());
    }

    /** The stored bytes, read-only, valid until {@link #close()}. */
    public MemorySegment bytes(String name) {
        GgufTensor t = tensor(name);
        if (closed) throw WeightsException.forTensor(path, name, "cannot be read: the file has been closed");
        return file.asSlice(t.offset(), t.byteLength()).asReadOnly();
    }

    @Override
    public ByteBuffer float32(String name, Arena target) {
        GgufTensor t = tensor(name);
        long bytes = Math.multiplyExact(t.elementCount(), (long) Float.BYTES);
        if (bytes > Integer.MAX_VALUE) {
            throw WeightsException.forTensor(path, name, "has " + t.elementCount()
                    + " elements: as fp32 it exceeds the 2 GiB limit of a Java buffer; quantize or split it");
        }
        MemorySegment out = target.allocate(bytes, 64);
        MemorySegment stored = bytes(name);
        t.type().dequantize(stored, out, t.elementCount());
        MappedPages.release(stored);
        return out.asByteBuffer().order(ByteOrder.nativeOrder());
    }

    /**
     * The stored blocks as MatMulNBits blocks of {@code format}, when they map without rounding: Q8_0 to 8 bits,
     * Q4_0 to 4 or 8 bits, Q5_0 to 8 bits, all in blocks of 32. Rows are the stored rows.
     */
    @Override
    public Optional<QuantizedWeight> quantized(String name, BlockFormat format, Arena target) {
        GgufTensor t = tensor(name);
        if (format.blockSize() != 32) return Optional.empty();
        boolean maps = switch (t.type()) {
            case Q8_0, Q5_0 -> format.bits() == 8;
            case Q4_0 -> true;
            default -> false;
        };
        if (!maps) return Optional.empty();
        MemorySegment stored = bytes(name);
        QuantizedWeight mapped = BlockMapping.map(t.type(), stored, t.elementCount() / t.rowLength(), t.rowLength(), format, target);
        MappedPages.release(stored);
        return Optional.of(mapped);
    }

    @Override
    public synchronized void close() {
        if (!closed) {
            closed = true;
            arena.close();
        }
    }

    @Override
    public String toString() {
        return "GgufFile[" + path + ", v" + version + ", " + tensors.size() + " tensors]";
    }

    /** Reads the header front to back, naming what it was reading when the file ends too early. */
    private static final class Cursor {
        private static final ValueLayout.OfInt LE_INT = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
        private static final ValueLayout.OfLong LE_LONG = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
        private static final ValueLayout.OfShort LE_SHORT = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
        private static final ValueLayout.OfFloat LE_FLOAT = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
        private static final ValueLayout.OfDouble LE_DOUBLE = ValueLayout.JAVA_DOUBLE_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

        private final Path path;
        private final MemorySegment file;
        private long position;

        Cursor(Path path, MemorySegment file) {
            this.path = path;
            this.file = file;
        }

        private long take(long bytes, String what) {
            if (bytes < 0 || bytes > file.byteSize() - position) {
                throw WeightsException.inFile(path, "is truncated: it ends at byte " + file.byteSize() + " while reading "
                        + what + " (" + bytes + " bytes at " + position + ")");
            }
            long at = position;
            position += bytes;
            return at;
        }

        int u32(String what) {
            return file.get(LE_INT, take(4, what));
        }

        long u64(String what) {
            return file.get(LE_LONG, take(8, what));
        }

        /** A count of items each at least {@code minBytes} long: more than the rest of the file can hold is truncation. */
        long count(String what, long minBytes) {
            long n = u64(what);
            if (n < 0 || n > (file.byteSize() - position) / minBytes + 1) {
                throw WeightsException.inFile(path, "is truncated or corrupt: " + what + " is " + Long.toUnsignedString(n)
                        + ", more than the remaining " + (file.byteSize() - position) + " bytes can hold");
            }
            return n;
        }

        String string(String what) {
            long length = u64("the length of " + what);
            long at = take(length, what);
            if (length > Integer.MAX_VALUE) throw WeightsException.inFile(path, what + " is " + length + " bytes long");
            return new String(file.asSlice(at, length).toArray(ValueLayout.JAVA_BYTE), StandardCharsets.UTF_8);
        }

        Object value(int type, String what) {
            return switch (type) {
                case GgufValues.UINT8 -> file.get(ValueLayout.JAVA_BYTE, take(1, what)) & 0xFF;
                case GgufValues.INT8 -> (int) file.get(ValueLayout.JAVA_BYTE, take(1, what));
                case GgufValues.UINT16 -> file.get(LE_SHORT, take(2, what)) & 0xFFFF;
                case GgufValues.INT16 -> (int) file.get(LE_SHORT, take(2, what));
                case GgufValues.UINT32 -> Integer.toUnsignedLong(file.get(LE_INT, take(4, what)));
                case GgufValues.INT32 -> file.get(LE_INT, take(4, what));
                case GgufValues.FLOAT32 -> file.get(LE_FLOAT, take(4, what));
                case GgufValues.BOOL -> file.get(ValueLayout.JAVA_BYTE, take(1, what)) != 0;
                case GgufValues.STRING -> string(what);
                case GgufValues.UINT64, GgufValues.INT64 -> file.get(LE_LONG, take(8, what));
                case GgufValues.FLOAT64 -> file.get(LE_DOUBLE, take(8, what));
                case GgufValues.ARRAY -> {
                    int elementType = u32("the element type of " + what);
                    long n = count("the length of " + what, 1);
                    List<Object> list = new ArrayList<>();
                    for (long i = 0; i < n; i++) list.add(value(elementType, what + "[" + i + "]"));
                    yield Collections.unmodifiableList(list);
                }
                default -> throw WeightsException.inFile(path, what + " has unknown value type " + Integer.toUnsignedString(type));
            };
        }
    }
}
