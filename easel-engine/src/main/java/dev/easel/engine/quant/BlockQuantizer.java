package dev.easel.engine.quant;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * Symmetric block quantization of fp32 rows into a {@link QuantizedWeight}, one tensor at a time and row by
 * row, so that only the tensor being converted is ever held as fp32.
 *
 * <p>8 bits: {@code scale = max|x| / 127}, {@code q = round(x / scale)} in [-127, 127] (as GGUF Q8_0).
 * 4 bits: the value of largest magnitude maps to -8, {@code scale = -x_max / 8}, {@code q = round(x / scale)}
 * clamped to [-8, 7] (as GGUF Q4_0: the full 16 levels, the extreme exactly). Either way every value is
 * within half a step ({@code scale / 2}) of the original. Scales stay fp32: no second rounding to fp16.
 */
public final class BlockQuantizer {
    private static final ValueLayout.OfFloat NATIVE_FLOAT = ValueLayout.JAVA_FLOAT_UNALIGNED;

    private BlockQuantizer() {
    }

    /** Quantizes a [rows, columns] fp32 matrix held in {@code source} (native order). */
    public static QuantizedWeight quantize(MemorySegment source, long rows, long columns, BlockFormat format, Arena arena) {
        if (source.byteSize() != rows * columns * Float.BYTES) {
            throw new IllegalArgumentException("a [" + rows + ", " + columns + "] fp32 matrix needs " + rows * columns * Float.BYTES
                    + " bytes, got " + source.byteSize());
        }
        long blocksPerRow = format.blocksPerRow(columns);
        MemorySegment blocks = arena.allocate(rows * blocksPerRow * format.blobSize(), 64);
        MemorySegment scales = arena.allocate(rows * blocksPerRow * Float.BYTES, 64);
        float[] row = new float[Math.toIntExact(blocksPerRow * format.blockSize())];
        byte[] blob = new byte[format.blobSize()];
        for (long r = 0; r < rows; r++) {
            java.util.Arrays.fill(row, 0f);
            MemorySegment.copy(source, NATIVE_FLOAT, r * columns * Float.BYTES, row, 0, (int) columns);
            for (int b = 0; b < blocksPerRow; b++) {
                long index = r * blocksPerRow + b;
                float scale = format.bits() == 8
                        ? quantize8(row, b * format.blockSize(), format.blockSize(), blob)
                        : quantize4(row, b * format.blockSize(), format.blockSize(), blob);
                scales.setAtIndex(NATIVE_FLOAT, index, scale);
                MemorySegment.copy(blob, 0, blocks, ValueLayout.JAVA_BYTE, index * blob.length, blob.length);
            }
        }
        return new QuantizedWeight(format, rows, columns, blocks, scales);
    }

    /** Convenience for heap data (tests, small tensors). */
    public static QuantizedWeight quantize(float[] values, long rows, long columns, BlockFormat format, Arena arena) {
        MemorySegment source = arena.allocate((long) values.length * Float.BYTES, 64);
        MemorySegment.copy(values, 0, source, NATIVE_FLOAT, 0, values.length);
        return quantize(source, rows, columns, format, arena);
    }

    /** One 8-bit block: unsigned q + 128. Returns its scale. */
    static float quantize8(float[] x, int from, int count, byte[] out) {
        float amax = 0;
        for (int i = 0; i < count; i++) amax = Math.max(amax, Math.abs(x[from + i]));
        float scale = amax / 127f;
        float inverse = scale == 0 ? 0 : 1 / scale;
        for (int i = 0; i < count; i++) {
            int q = Math.clamp(Math.round(x[from + i] * inverse), -127, 127);
            out[i] = (byte) (q + 128);
        }
        return scale;
    }

    /** One 4-bit block: unsigned q + 8, two per byte, even index in the low nibble. Returns its scale. */
    static float quantize4(float[] x, int from, int count, byte[] out) {
        float extreme = 0;
        for (int i = 0; i < count; i++) {
            if (Math.abs(x[from + i]) > Math.abs(extreme)) extreme = x[from + i];
        }
        float scale = extreme == 0 ? 0f : extreme / -8f;
        float inverse = scale == 0 ? 0 : 1 / scale;
        for (int i = 0; i < count; i += 2) {
            int lo = Math.clamp(Math.round(x[from + i] * inverse), -8, 7) + 8;
            int hi = Math.clamp(Math.round(x[from + i + 1] * inverse), -8, 7) + 8;
            out[i / 2] = (byte) (lo | hi << 4);
        }
        return scale;
    }
}
