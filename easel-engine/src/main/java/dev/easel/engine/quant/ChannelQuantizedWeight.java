package dev.easel.engine.quant;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * A weight [rows, columns] (a PyTorch Linear weight [out, in]) quantized per output channel, in the layout of
 * ONNX Runtime's integer GEMM B: {@code values} is int8 [columns, rows] (transposed), {@code scales} fp32 [rows]
 * (native order). Symmetric: {@code value = q * scale}, {@code scale = max|row| / 127}, {@code q = round(x / scale)}
 * in [-127, 127], so every value is within half a step of the original.
 */
public record ChannelQuantizedWeight(long rows, long columns, MemorySegment values, MemorySegment scales) {
    private static final ValueLayout.OfFloat FLOAT = ValueLayout.JAVA_FLOAT_UNALIGNED;
    /** Rows quantized together before they are written out transposed (keeps the transposing writes in cache). */
    private static final int TILE = 64;

    public ChannelQuantizedWeight {
        if (values.byteSize() != rows * columns || scales.byteSize() != rows * Float.BYTES) {
            throw new IllegalArgumentException("a [" + rows + ", " + columns + "] channel-quantized weight needs "
                    + rows * columns + " bytes of values and " + rows * Float.BYTES + " of scales, got "
                    + values.byteSize() + " and " + scales.byteSize());
        }
    }

    /** Quantizes a [rows, columns] fp32 matrix held in {@code source} (native order), a tile of rows at a time. */
    public static ChannelQuantizedWeight quantize(MemorySegment source, long rows, long columns, Arena arena) {
        if (source.byteSize() != rows * columns * Float.BYTES) {
            throw new IllegalArgumentException("a [" + rows + ", " + columns + "] fp32 matrix needs " + rows * columns * Float.BYTES
                    + " bytes, got " + source.byteSize());
        }
        MemorySegment values = arena.allocate(rows * columns, 64);
        MemorySegment scales = arena.allocate(rows * Float.BYTES, 64);
        int width = Math.toIntExact(columns);
        float[] row = new float[width];
        byte[][] tile = new byte[TILE][width];
        byte[] column = new byte[TILE];
        for (long first = 0; first < rows; first += TILE) {
            int count = (int) Math.min(TILE, rows - first);
            for (int i = 0; i < count; i++) {
                MemorySegment.copy(source, FLOAT, (first + i) * columns * Float.BYTES, row, 0, width);
                scales.setAtIndex(FLOAT, first + i, quantizeRow(row, tile[i]));
            }
            for (int c = 0; c < width; c++) {
                for (int i = 0; i < count; i++) column[i] = tile[i][c];
                MemorySegment.copy(column, 0, values, ValueLayout.JAVA_BYTE, c * rows + first, count);
            }
        }
        return new ChannelQuantizedWeight(rows, columns, values, scales);
    }

    /** Convenience for heap data (tests, small tensors). */
    public static ChannelQuantizedWeight quantize(float[] values, long rows, long columns, Arena arena) {
        MemorySegment source = arena.allocate((long) values.length * Float.BYTES, 64);
        MemorySegment.copy(values, 0, source, FLOAT, 0, values.length);
        return quantize(source, rows, columns, arena);
    }

    private static float quantizeRow(float[] x, byte[] out) {
        float amax = 0;
        for (float v : x) amax = Math.max(amax, Math.abs(v));
        float scale = amax / 127f;
        float inverse = scale == 0 ? 0 : 1 / scale;
        for (int i = 0; i < x.length; i++) out[i] = (byte) Math.clamp(Math.round(x[i] * inverse), -127, 127);
        return scale;
    }

    /** The value the GEMM computes with at [row, column]. */
    public float value(long row, long column) {
        return values.get(ValueLayout.JAVA_BYTE, column * rows + row) * scales.getAtIndex(FLOAT, row);
    }

    /** All values, row-major [rows, columns], as the GEMM sees them (for tests and checks). */
    public float[] dequantize() {
        float[] out = new float[Math.toIntExact(rows * columns)];
        for (long r = 0; r < rows; r++) {
            for (long c = 0; c < columns; c++) out[(int) (r * columns + c)] = value(r, c);
        }
        return out;
    }
}
