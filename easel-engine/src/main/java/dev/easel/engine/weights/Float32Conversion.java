package dev.easel.engine.weights;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * Bulk conversion of little-endian float tensors to native-order fp32.
 * Work goes through small heap chunks so that the inner loops are plain array loops that
 * HotSpot vectorizes (fp16 widening and the bf16 shift compile to SIMD on x86 and ARM).
 */
final class Float32Conversion {
    private static final int CHUNK = 16 * 1024;
    private static final ValueLayout.OfShort LE_SHORT = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfFloat LE_FLOAT = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfDouble LE_DOUBLE = ValueLayout.JAVA_DOUBLE_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfFloat NATIVE_FLOAT = ValueLayout.JAVA_FLOAT_UNALIGNED;

    /** fp8 has only 256 values, so a table lookup is both the fastest and the clearest conversion. */
    private static final float[] E4M3_TABLE = new float[256];
    private static final float[] E5M2_TABLE = new float[256];

    static {
        for (int b = 0; b < 256; b++) {
            E4M3_TABLE[b] = e4m3ToFloat(b);
            // E5M2 is exactly the high byte of an IEEE half: same exponent width and bias.
            E5M2_TABLE[b] = Float.float16ToFloat((short) (b << 8));
        }
    }

    private Float32Conversion() {
    }

    static void convert(DType type, MemorySegment source, MemorySegment target, long count) {
        if (source.byteSize() < count * type.byteSize()) {
            throw new IndexOutOfBoundsException(count + " " + type + " values need " + count * type.byteSize()
                    + " bytes, source has " + source.byteSize());
        }
        if (target.byteSize() < count * Float.BYTES) {
            throw new IndexOutOfBoundsException(count + " fp32 values need " + count * Float.BYTES
                    + " bytes, target has " + target.byteSize());
        }
        switch (type) {
            case F32 -> MemorySegment.copy(source, LE_FLOAT, 0, target, NATIVE_FLOAT, 0, count);
            case F64 -> fromF64(source, target, count);
            case F16 -> fromHalf(source, target, count, false);
            case BF16 -> fromHalf(source, target, count, true);
            case F8_E4M3 -> fromByteTable(source, target, count, E4M3_TABLE);
            case F8_E5M2 -> fromByteTable(source, target, count, E5M2_TABLE);
            default -> throw new UnsupportedOperationException(type + " is not a floating-point type");
        }
    }

    private static void fromHalf(MemorySegment source, MemorySegment target, long count, boolean brain) {
        short[] in = new short[(int) Math.min(CHUNK, count)];
        float[] out = new float[in.length];
        for (long done = 0; done < count; ) {
            int n = (int) Math.min(in.length, count - done);
            MemorySegment.copy(source, LE_SHORT, done * Short.BYTES, in, 0, n);
            if (brain) {
                // bf16 is the top half of an fp32: shifting drops the sign extension of the short.
                for (int i = 0; i < n; i++) out[i] = Float.intBitsToFloat(in[i] << 16);
            } else {
                for (int i = 0; i < n; i++) out[i] = Float.float16ToFloat(in[i]);
            }
            MemorySegment.copy(out, 0, target, NATIVE_FLOAT, done * Float.BYTES, n);
            done += n;
        }
    }

    private static void fromByteTable(MemorySegment source, MemorySegment target, long count, float[] table) {
        byte[] in = new byte[(int) Math.min(CHUNK, count)];
        float[] out = new float[in.length];
        for (long done = 0; done < count; ) {
            int n = (int) Math.min(in.length, count - done);
            MemorySegment.copy(source, ValueLayout.JAVA_BYTE, done, in, 0, n);
            for (int i = 0; i < n; i++) out[i] = table[in[i] & 0xFF];
            MemorySegment.copy(out, 0, target, NATIVE_FLOAT, done * Float.BYTES, n);
            done += n;
        }
    }

    private static void fromF64(MemorySegment source, MemorySegment target, long count) {
        double[] in = new double[(int) Math.min(CHUNK, count)];
        float[] out = new float[in.length];
        for (long done = 0; done < count; ) {
            int n = (int) Math.min(in.length, count - done);
            MemorySegment.copy(source, LE_DOUBLE, done * Double.BYTES, in, 0, n);
            for (int i = 0; i < n; i++) out[i] = (float) in[i];
            MemorySegment.copy(out, 0, target, NATIVE_FLOAT, done * Float.BYTES, n);
            done += n;
        }
    }

    /** float8_e4m3fn: bias 7, subnormals when the exponent field is 0, NaN at S.1111.111, no infinities. */
    private static float e4m3ToFloat(int bits) {
        int exponent = (bits >>> 3) & 0xF;
        int mantissa = bits & 0x7;
        float sign = (bits & 0x80) != 0 ? -1f : 1f;
        if (exponent == 0xF && mantissa == 0x7) return Float.NaN;
        if (exponent == 0) return Math.copySign(mantissa * 0x1p-9f, sign); // (m/8) * 2^-6
        int fp32Bits = (bits & 0x80) << 24 | (exponent - 7 + 127) << 23 | mantissa << 20;
        return Float.intBitsToFloat(fp32Bits);
    }
}
