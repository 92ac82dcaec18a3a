package dev.easel.engine.weights;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.WritableByteChannel;

/** Encodes fp32 values into a stored float type, chunk by chunk, for writing checkpoints. */
final class FloatEncoder {
    private static final int CHUNK = 16 * 1024;

    private FloatEncoder() {
    }

    static void write(DType dtype, long count, TensorData.FloatChunks values, WritableByteChannel out) throws IOException {
        switch (dtype) {
            case F64, F32, F16, BF16 -> { }
            default -> throw new IllegalArgumentException("cannot encode floats as " + dtype);
        }
        float[] chunk = new float[(int) Math.min(CHUNK, Math.max(count, 1))];
        ByteBuffer bytes = ByteBuffer.allocate(chunk.length * dtype.byteSize()).order(ByteOrder.LITTLE_ENDIAN);
        for (long done = 0; done < count; ) {
            int n = (int) Math.min(chunk.length, count - done);
            values.next(chunk, n);
            bytes.clear();
            for (int i = 0; i < n; i++) {
                switch (dtype) {
                    case F64 -> bytes.putDouble(chunk[i]);
                    case F32 -> bytes.putFloat(chunk[i]);
                    case F16 -> bytes.putShort(Float.floatToFloat16(chunk[i]));
                    default -> bytes.putShort(toBfloat16(chunk[i]));
                }
            }
            bytes.flip();
            while (bytes.hasRemaining()) out.write(bytes);
            done += n;
        }
    }

    /** Round to nearest even on the 16 dropped bits, as PyTorch does; NaN stays a (quiet) NaN. */
    static short toBfloat16(float value) {
        if (Float.isNaN(value)) return (short) 0x7FC0;
        int bits = Float.floatToRawIntBits(value);
        int rounded = bits + 0x7FFF + ((bits >>> 16) & 1);
        return (short) (rounded >>> 16);
    }
}
