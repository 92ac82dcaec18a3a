package dev.easel.engine.weights;

import dev.easel.engine.quant.BlockFormat;
import dev.easel.engine.quant.QuantizedWeight;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * A view of another source in which each tensor is derived from one stored tensor: the tensor as it is
 * (renamed), a range of its rows (or several ranges, one after the other), or the transpose of a matrix.
 * Checkpoint layouts need this where a rename is not enough: OpenCLIP stores the query, key and value projections stacked in one {@code in_proj_weight}
 * [3D, D] (the rows of q, then k, then v) and its {@code text_projection} as [hidden, proj], the transpose of
 * the Linear weight the models declare.
 *
 * <p>Tensors served as is are zero-copy, as in {@link RenamedWeights}; rows and transposes are converted into a
 * new fp32 buffer when asked for (once, when a session binds them). {@link #info} gives a derived tensor its
 * derived shape; its byte range is that of the rows it reads, and for a transpose or reordered rows that of
 * the whole stored tensor (the same bytes, read in another order). Closing the view does not close its base.
 */
public final class DerivedWeights implements WeightSource {

    /** How one tensor of the view is made from the base tensor {@link #source()}. */
    public sealed interface Derivation {
        String source();
    }

    /** The stored tensor unchanged. */
    public record AsStored(String source) implements Derivation {
    }

    /** Rows {@code [first, first + count)} of the stored tensor's first axis (elements, for a vector). */
    public record Rows(String source, long first, long count) implements Derivation {
        public Rows {
            if (first < 0 || count <= 0) {
                throw new IllegalArgumentException("rows [" + first + ", " + first + " + " + count + ") of " + source);
            }
        }
    }

    /** The transpose of a stored matrix: [a, b] seen as [b, a] with {@code out[j][i] = stored[i][j]}. */
    public record Transposed(String source) implements Derivation {
    }

    /**
     * Several row ranges of the stored tensor's first axis, one after the other: a reordering of its rows, e.g.
     * the two halves of a modulation layer swapped (FLUX.1 stores (shift, scale) where diffusers reads (scale, shift)).
     */
    public record RowRanges(String source, List<Rows> ranges) implements Derivation {
        public RowRanges {
            ranges = List.copyOf(ranges);
            if (ranges.isEmpty() || ranges.stream().anyMatch(r -> !r.source().equals(source))) {
                throw new IllegalArgumentException("row ranges of " + source + ": " + ranges);
            }
        }

        /** The second half of the rows, then the first. */
        public static RowRanges swappedHalves(String source, long rows) {
            if (rows <= 0 || rows % 2 != 0) throw new IllegalArgumentException("halves of " + rows + " rows of " + source);
            return new RowRanges(source, List.of(new Rows(source, rows / 2, rows / 2), new Rows(source, 0, rows / 2)));
        }

        long count() {
            return ranges.stream().mapToLong(Rows::count).sum();
        }
    }

    private final WeightSource base;
    private final String view;
    private final Map<String, Derivation> derivations;
    private final Map<String, TensorInfo> infos = new LinkedHashMap<>();

    /**
     * @param view        a few words saying what the view is, for error messages (e.g. "text encoder 2, transformers names")
     * @param derivations this view's names, in the order {@link #names()} lists them, to how each is made
     * @throws WeightsException when a source tensor is missing or cannot be derived as asked (rows out of range,
     *                          transpose of a tensor that is not a matrix)
     */
    public DerivedWeights(WeightSource base, String view, Map<String, ? extends Derivation> derivations) {
        this.base = base;
        this.view = view;
        this.derivations = Collections.unmodifiableMap(new LinkedHashMap<>(derivations));
        this.derivations.forEach((name, d) -> infos.put(name, derive(name, d)));
    }

    private TensorInfo derive(String name, Derivation d) {
        if (!base.contains(d.source())) {
            throw WeightsException.forTensor(base.location(), d.source(),
                    "is missing (wanted for '" + name + "' by the " + view + " view)");
        }
        TensorInfo t = base.info(d.source());
        return switch (d) {
            case AsStored ignored -> t.view(name, t.shape());
            case Rows r -> {
                checkRows(name, t, r);
                long[] shape = t.shape();
                shape[0] = r.count();
                long rowBytes = rowElements(t) * t.dtype().byteSize();
                yield new TensorInfo(name, t.dtype(), shape, t.byteOffset() + r.first() * rowBytes, r.count() * rowBytes);
            }
            case RowRanges rs -> {
                rs.ranges().forEach(r -> checkRows(name, t, r));
                long[] shape = t.shape();
                shape[0] = rs.count();
                // the bytes read lie anywhere in the stored tensor, as for a transpose
                yield new TensorInfo(name, t.dtype(), shape, t.byteOffset(), t.byteLength());
            }
            case Transposed ignored -> {
                if (t.rank() != 2) {
                    throw WeightsException.forTensor(base.location(), d.source(), "has shape " + Arrays.toString(t.shape())
                            + ", not a matrix: it cannot be transposed into '" + name + "'");
                }
                yield new TensorInfo(name, t.dtype(), new long[]{t.dim(1), t.dim(0)}, t.byteOffset(), t.byteLength());
            }
        };
    }

    private void checkRows(String name, TensorInfo t, Rows r) {
        if (t.rank() < 1 || r.first() + r.count() > t.dim(0)) {
            throw WeightsException.forTensor(base.location(), r.source(), "has shape " + Arrays.toString(t.shape())
                    + ": it has no rows [" + r.first() + ", " + (r.first() + r.count()) + ") for '" + name + "'");
        }
    }

    private static long rowElements(TensorInfo t) {
        return t.elementCount() / Math.max(1, t.dim(0));
    }

    /** The source this view reads from. */
    public WeightSource base() {
        return base;
    }

    /** How one of this view's tensors is made. */
    public Derivation derivation(String name) {
        Derivation d = derivations.get(name);
        if (d == null) {
            throw WeightsException.forTensor(location(), name, "is not in this view (" + derivations.size() + " tensors)");
        }
        return d;
    }

    @Override
    public String location() {
        return base.location() + " (" + view + ")";
    }

    @Override
    public Set<String> names() {
        return derivations.keySet();
    }

    @Override
    public TensorInfo info(String name) {
        derivation(name);
        return infos.get(name);
    }

    @Override
    public ByteBuffer float32(String name, Arena arena) {
        Derivation d = derivation(name);
        TensorInfo stored = base.info(d.source());
        return switch (d) {
            case AsStored ignored -> base.float32(d.source(), arena);
            case Rows r -> {
                MemorySegment out = Float32Buffers.allocate(location(), name, r.count() * rowElements(stored), arena);
                copyRows(d.source(), List.of(r), stored, out);
                yield Float32Buffers.asBuffer(out);
            }
            case RowRanges rs -> {
                MemorySegment out = Float32Buffers.allocate(location(), name, rs.count() * rowElements(stored), arena);
                copyRows(d.source(), rs.ranges(), stored, out);
                yield Float32Buffers.asBuffer(out);
            }
            case Transposed ignored -> {
                long rows = stored.dim(0);
                long cols = stored.dim(1);
                MemorySegment out = Float32Buffers.allocate(location(), name, rows * cols, arena);
                try (Arena scratch = Arena.ofConfined()) {
                    MemorySegment in = MemorySegment.ofBuffer(base.float32(d.source(), scratch));
                    transpose(in, out, rows, cols);
                }
                yield Float32Buffers.asBuffer(out);
            }
        };
    }

    /** Converts the rows of each range, one range after the other, into {@code out}. */
    private void copyRows(String source, List<Rows> ranges, TensorInfo stored, MemorySegment out) {
        long rowElements = rowElements(stored);
        long at = 0;
        if (base instanceof SafetensorsFile file) {
            // Only the rows asked for are converted, straight from the mapped file.
            long bytes = stored.dtype().byteSize();
            MemorySegment data = file.bytes(source);
            for (Rows r : ranges) {
                long count = r.count() * rowElements;
                MemorySegment rows = data.asSlice(r.first() * rowElements * bytes, count * bytes);
                stored.dtype().toFloat32(rows, out.asSlice(at * Float.BYTES), count);
                MappedPages.release(rows);
                at += count;
            }
            return;
        }
        try (Arena scratch = Arena.ofConfined()) {
            MemorySegment whole = MemorySegment.ofBuffer(base.float32(source, scratch));
            for (Rows r : ranges) {
                long count = r.count() * rowElements;
                MemorySegment.copy(whole, r.first() * rowElements * Float.BYTES, out, at * Float.BYTES, count * Float.BYTES);
                at += count;
            }
        }
    }

    /** Only a tensor served as stored keeps its stored blocks. */
    @Override
    public Optional<QuantizedWeight> quantized(String name, BlockFormat format, Arena arena) {
        return switch (derivation(name)) {
            case AsStored(String source) -> base.quantized(source, format, arena);
            // a block never spans rows, so a range of rows is a range of the stored blocks and scales
            case Rows(String source, long first, long count) -> base.quantized(source, format, arena).map(q -> new QuantizedWeight(format,
                    count, q.columns(), q.blocks().asSlice(first * q.blocksPerRow() * format.blobSize(), count * q.blocksPerRow() * format.blobSize()),
                    q.scales().asSlice(first * q.blocksPerRow() * Float.BYTES, count * q.blocksPerRow() * Float.BYTES)));
            default -> Optional.empty();
        };
    }

    /** out[j][i] = in[i][j] for an in of rows x cols, in square blocks so both sides stay in cache. */
    private static void transpose(MemorySegment in, MemorySegment out, long rows, long cols) {
        final int block = 64;
        ValueLayout.OfFloat f = ValueLayout.JAVA_FLOAT_UNALIGNED;
        for (long i0 = 0; i0 < rows; i0 += block) {
            long i1 = Math.min(rows, i0 + block);
            for (long j0 = 0; j0 < cols; j0 += block) {
                long j1 = Math.min(cols, j0 + block);
                for (long i = i0; i < i1; i++) {
                    for (long j = j0; j < j1; j++) {
                        out.setAtIndex(f, j * rows + i, in.getAtIndex(f, i * cols + j));
                    }
                }
            }
        }
    }

    @Override
    public void close() {
        // A view owns nothing: its base is closed by whoever opened it.
    }
}
