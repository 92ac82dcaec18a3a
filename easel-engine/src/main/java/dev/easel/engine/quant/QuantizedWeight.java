package dev.easel.engine.quant;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * A weight [rows, columns] (a PyTorch Linear weight [out, in]: MatMulNBits' N and K) in MatMulNBits' input
 * layout: {@code blocks} is uint8 [rows, blocksPerRow, blobSize], {@code scales} is fp32 [rows * blocksPerRow]
 * (native order). 4-bit values pack two to a byte, the even column in the low nibble. No zero points: the
 * format's implicit one applies ({@link BlockFormat#zeroPoint()}).
 */
public record QuantizedWeight(BlockFormat format, long rows, long columns, MemorySegment blocks, MemorySegment scales) {
    private static final ValueLayout.OfFloat FLOAT = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.nativeOrder());

    public QuantizedWeight {
        long blocksPerRow = format.blocksPerRow(columns);
        if (blocks.byteSize() != rows * blocksPerRow * format.blobSize()) {
            throw new IllegalArgumentException("blocks hold " + blocks.byteSize() + " bytes, [" + rows + ", " + columns
                    + "] at " + format + " needs " + rows * blocksPerRow * format.blobSize());
        }
        if (scales.byteSize() != rows * blocksPerRow * Float.BYTES) {
            throw new IllegalArgumentException("scales hold " + scales.byteSize() + " bytes, [" + rows + ", " + columns
                    + "] at " + format + " needs " + rows * blocksPerRow * Float.BYTES);
        }
    }

    public long blocksPerRow() {
        return format.blocksPerRow(columns);
    }

    /** The stored integer (unsigned, zero point not subtracted) at [row, column]. */
    public int integer(long row, long column) {
        long block = row * blocksPerRow() + column / format.blockSize();
        long inBlock = column % format.blockSize();
        long at = block * format.blobSize();
        if (format.bits() == 8) return blocks.get(ValueLayout.JAVA_BYTE, at + inBlock) & 0xFF;
        int b = blocks.get(ValueLayout.JAVA_BYTE, at + inBlock / 2) & 0xFF;
        return (inBlock & 1) == 0 ? b & 0xF : b >>> 4;
    }

    public float scale(long row, long column) {
        return scales.getAtIndex(FLOAT, row * blocksPerRow() + column / format.blockSize());
    }

    /** The value MatMulNBits computes with at [row, column]. */
    public float value(long row, long column) {
        return (integer(row, column) - format.zeroPoint()) * scale(row, column);
    }

    /** All values, row-major, as MatMulNBits sees them (for tests and checks). */
    public float[] dequantize() {
        float[] out = new float[Math.toIntExact(rows * columns)];
        for (long r = 0; r < rows; r++) {
            for (long c = 0; c < columns; c++) out[(int) (r * columns + c)] = value(r, c);
        }
        return out;
    }
}
