package dev.easel.engine.weights;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.WritableByteChannel;

/**
 * The bytes of one tensor for {@link SafetensorsWriter}, produced only when the writer reaches the tensor,
 * so that checkpoints of several GB can be written without holding them in memory.
 * Implementations write exactly {@code elements x dtype size} little-endian bytes.
 */
@FunctionalInterface
public interface TensorData {

    void writeTo(WritableByteChannel out) throws IOException;

    /** Bytes already encoded (little-endian, in the entry's dtype). */
    static TensorData of(ByteBuffer bytes) {
        ByteBuffer source = bytes.duplicate();
        return out -> {
            ByteBuffer b = source.duplicate();
            while (b.hasRemaining()) out.write(b);
        };
    }

    static TensorData of(byte[] bytes) {
        return of(ByteBuffer.wrap(bytes));
    }

    /** Fills {@code chunk[0..length)} with the next values of a tensor. */
    @FunctionalInterface
    interface FloatChunks {
        void next(float[] chunk, int length);
    }

    /**
     * {@code count} values drawn chunk by chunk from {@code values} and encoded as {@code dtype}
     * (F64, F32, F16 or BF16, rounding to nearest even): e.g. random weights of a real-size model.
     */
    static TensorData generated(DType dtype, long count, FloatChunks values) {
        return out -> FloatEncoder.write(dtype, count, values, out);
    }

    /** The given values encoded as {@code dtype} (F64, F32, F16 or BF16). */
    static TensorData floats(DType dtype, float... values) {
        float[] copy = values.clone();
        return generated(dtype, copy.length, new FloatChunks() {
            private int at;

            @Override
            public void next(float[] chunk, int length) {
                System.arraycopy(copy, at, chunk, 0, length);
                at += length;
            }
        });
    }
}
