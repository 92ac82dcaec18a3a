package dev.easel.engine.weights.gguf;

import dev.easel.engine.quant.BlockFormat;
import dev.easel.engine.quant.QuantizedWeight;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * GGUF blocks of 32 whose values are {@code d * q} with a small signed q (Q8_0: q in [-128, 127]; Q4_0:
 * [-8, 7]; Q5_0: [-16, 15]) carried into MatMulNBits blocks of 32 exactly: the same q, shifted by the
 * target's implicit zero point (128 for 8 bits, 8 for 4), and d widened from fp16 to fp32. Only the packing
 * changes: ggml keeps element j and j + 16 in one byte, MatMulNBits elements 2i and 2i + 1.
 */
final class BlockMapping {
    private static final int QK = 32;

    private BlockMapping() {
    }

    static QuantizedWeight map(GgufType type, MemorySegment stored, long rows, long columns, BlockFormat format, Arena arena) {
        long blocks = rows * columns / QK;
        MemorySegment out = arena.allocate(blocks * format.blobSize(), 64);
        MemorySegment scales = arena.allocate(blocks * Float.BYTES, 64);
        int[] q = new int[QK];
        byte[] blob = new byte[format.blobSize()];
        for (long b = 0; b < blocks; b++) {
            long at = b * type.bytesPerBlock();
            scales.setAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, b, BlockCodec.half(stored, at));
            signedIntegers(type, stored, at, q);
            if (format.bits() == 8) {
                for (int i = 0; i < QK; i++) blob[i] = (byte) (q[i] + 128);
            } else {
                for (int i = 0; i < QK; i += 2) blob[i / 2] = (byte) ((q[i] + 8) | (q[i + 1] + 8) << 4);
            }
            MemorySegment.copy(blob, 0, out, ValueLayout.JAVA_BYTE, b * blob.length, blob.length);
        }
        return new QuantizedWeight(format, rows, columns, out, scales);
    }

    /** The block's integers q (value = d * q), in element order. */
    private static void signedIntegers(GgufType type, MemorySegment s, long at, int[] q) {
        switch (type) {
            case Q8_0 -> {
                for (int i = 0; i < QK; i++) q[i] = s.get(ValueLayout.JAVA_BYTE, at + 2 + i);
            }
            case Q4_0 -> {
                for (int j = 0; j < QK / 2; j++) {
                    int b = BlockCodec.u8(s, at + 2 + j);
                    q[j] = (b & 0xF) - 8;
                    q[j + QK / 2] = (b >>> 4) - 8;
                }
            }
            case Q5_0 -> {
                int qh = s.get(BlockCodec.LE_INT, at + 2);
                for (int j = 0; j < QK / 2; j++) {
                    int b = BlockCodec.u8(s, at + 6 + j);
                    q[j] = ((b & 0xF) | ((qh >>> j) & 1) << 4) - 16;
                    q[j + QK / 2] = ((b >>> 4) | ((qh >>> (j + 16)) & 1) << 4) - 16;
                }
            }
            default -> throw new IllegalArgumentException(type + " blocks do not map onto MatMulNBits");
        }
    }
}
