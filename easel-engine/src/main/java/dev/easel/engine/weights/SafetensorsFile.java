package dev.easel.engine.weights;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A memory-mapped {@code .safetensors} file: 8-byte little-endian header length, JSON header, raw data.
 * The data area is mapped once (a {@link MemorySegment}, so files and tensors past 2 GiB work) and read
 * tensor by tensor; nothing is loaded until asked for. Safe to read from several threads.
 */
public final class SafetensorsFile implements WeightSource {
    /** The safetensors format caps the header at 100 MB; a larger value means a corrupt or foreign file. */
    private static final long MAX_HEADER_BYTES = 100L * 1024 * 1024;

    /**
     * Buffers of the LDM training code (DDPM noise schedule) stored beside the weights in original
     * Stable Diffusion checkpoints; the schedulers recompute them, so they are not model weights.
     */
    private static final Set<String> SCHEDULE_BUFFERS = Set.of(
            "betas", "alphas_cumprod", "alphas_cumprod_prev", "sqrt_alphas_cumprod", "sqrt_one_minus_alphas_cumprod",
            "log_one_minus_alphas_cumprod", "sqrt_recip_alphas_cumprod", "sqrt_recipm1_alphas_cumprod",
            "posterior_variance", "posterior_log_variance_clipped", "posterior_mean_coef1", "posterior_mean_coef2",
            "lvlb_weights");

    private final Path path;
    private final Arena arena;
    private final MemorySegment data;
    private final long dataStart;
    private final Map<String, TensorInfo> tensors;
    private final Set<String> weightNames;
    private final Map<String, String> metadata;
    private volatile boolean closed;

    private SafetensorsFile(Path path, Arena arena, MemorySegment data, long dataStart, SafetensorsHeader header) {
        this.path = path;
        this.arena = arena;
        this.data = data;
        this.dataStart = dataStart;
        this.metadata = header.metadata();
        Map<String, TensorInfo> byName = new LinkedHashMap<>();
        Set<String> weights = new LinkedHashSet<>();
        for (TensorInfo t : header.tensors()) {
            byName.put(t.name(), t);
            if (isWeight(t)) weights.add(t.name());
        }
        this.tensors = Collections.unmodifiableMap(byName);
        this.weightNames = Collections.unmodifiableSet(weights);
    }

    public static SafetensorsFile open(Path path) {
        try (FileChannel channel = FileChannel.open(path, StandardOpenOption.READ)) {
            long fileSize = channel.size();
            if (fileSize < Long.BYTES) {
                throw WeightsException.inFile(path, "is not a safetensors file: " + fileSize
                        + " bytes, too short for the 8-byte header length");
            }
            long headerLength = readFully(channel, 0, Long.BYTES).order(ByteOrder.LITTLE_ENDIAN).getLong(0);
            if (headerLength < 2 || headerLength > fileSize - Long.BYTES) {
                throw WeightsException.inFile(path, "header length " + Long.toUnsignedString(headerLength)
                        + " does not fit in the file (" + fileSize + " bytes): not a safetensors file, or truncated");
            }
            if (headerLength > MAX_HEADER_BYTES) {
                throw WeightsException.inFile(path, "header length " + headerLength + " exceeds the format's limit of "
                        + MAX_HEADER_BYTES + " bytes");
            }
            byte[] json = readFully(channel, Long.BYTES, (int) headerLength).array();
            long dataStart = Long.BYTES + headerLength;
            long dataSize = fileSize - dataStart;
            SafetensorsHeader header = SafetensorsHeader.parse(path, json, dataStart, dataSize);
            Arena arena = Arena.ofShared();
            try {
                MemorySegment data = dataSize == 0
                        ? arena.allocate(0)
                        : channel.map(FileChannel.MapMode.READ_ONLY, dataStart, dataSize, arena);
                return new SafetensorsFile(path, arena, data, dataStart, header);
            } catch (IOException | RuntimeException e) {
                arena.close();
                throw e;
            }
        } catch (IOException e) {
            throw WeightsException.inFile(path, "cannot be read: " + e, e);
        }
    }

    private static ByteBuffer readFully(FileChannel channel, long position, int length) throws IOException {
        ByteBuffer buffer = ByteBuffer.allocate(length);
        while (buffer.hasRemaining()) {
            if (channel.read(buffer, position + buffer.position()) < 0) {
                throw new IOException("unexpected end of file at byte " + (position + buffer.position()));
            }
        }
        return buffer.flip();
    }

    /** Weights are float tensors of rank >= 1 that are not noise-schedule buffers. */
    private static boolean isWeight(TensorInfo t) {
        return t.dtype().isFloatingPoint() && t.rank() > 0 && !SCHEDULE_BUFFERS.contains(t.name());
    }

    public Path path() {
        return path;
    }

    @Override
    public String location() {
        return path.toString();
    }

    /** The {@code __metadata__} entries of the header (e.g. {@code format: pt}). */
    public Map<String, String> metadata() {
        return metadata;
    }

    /** Every tensor of the file, weights or not, in file order. */
    public List<TensorInfo> tensors() {
        return List.copyOf(tensors.values());
    }

    @Override
    public Set<String> names() {
        return weightNames;
    }

    /** Whether the file holds this tensor, weight or not. */
    public boolean hasTensor(String name) {
        return tensors.containsKey(name);
    }

    /** Answers for every tensor in the file, including those {@link #names()} leaves out. */
    @Override
    public TensorInfo info(String name) {
        TensorInfo t = tensors.get(name);
        if (t == null) {
            throw WeightsException.forTensor(path, name, "is not in this file (" + tensors.size() + " tensors)");
        }
        return t;
    }

    /** The stored bytes of any tensor (little-endian, as on disk), read-only and valid until {@link #close()}. */
    public MemorySegment bytes(String name) {
        TensorInfo t = info(name);
        checkOpen(name);
        return data.asSlice(t.byteOffset() - dataStart, t.byteLength()).asReadOnly();
    }

    @Override
    public ByteBuffer float32(String name, Arena target) {
        TensorInfo t = info(name);
        if (!t.dtype().isFloatingPoint()) {
            throw WeightsException.forTensor(path, name, "is " + t.dtype() + ", not a floating-point tensor");
        }
        MemorySegment out = Float32Buffers.allocate(path, name, t.elementCount(), target);
        MemorySegment stored = bytes(name);
        t.dtype().toFloat32(stored, out, t.elementCount());
        MappedPages.release(stored);
        return Float32Buffers.asBuffer(out);
    }

    private void checkOpen(String tensor) {
        if (closed) throw WeightsException.forTensor(path, tensor, "cannot be read: the file has been closed");
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
        return "SafetensorsFile[" + path + ", " + tensors.size() + " tensors]";
    }
}
