package dev.easel.engine.weights;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/** Allocation of the fp32 buffers handed to ONNX Runtime. */
final class Float32Buffers {
    /** Cache-line (and AVX-512 register) alignment: what MLAS and CUDA copies like best. */
    static final long ALIGNMENT = 64;

    private Float32Buffers() {
    }

    /**
     * A zeroed, 64-byte aligned native segment for {@code count} floats, checked to fit a ByteBuffer:
     * ONNX Runtime's Java API takes tensors as buffers, which Java limits to 2 GiB.
     */
    static MemorySegment allocate(Object source, String tensor, long count, Arena arena) {
        long bytes = Math.multiplyExact(count, (long) Float.BYTES);
        if (bytes > Integer.MAX_VALUE) {
            throw WeightsException.forTensor(source, tensor, "has " + count
                    + " elements: as fp32 it exceeds the 2 GiB limit of a Java buffer; quantize or split it");
        }
        return arena.allocate(bytes, ALIGNMENT);
    }

    static ByteBuffer asBuffer(MemorySegment segment) {
        return segment.asByteBuffer().order(ByteOrder.nativeOrder());
    }
}
