package dev.easel.engine.weights.gguf;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;

import static dev.easel.engine.weights.gguf.BlockCodec.LE_INT;
import static dev.easel.engine.weights.gguf.BlockCodec.half;
import static dev.easel.engine.weights.gguf.BlockCodec.u8;

/**
 * The 32-value block formats: one fp16 scale {@code d} (and for the "_1" kinds an fp16 offset {@code m}),
 * then the integers. Element j of the first half of a block sits in the low nibble of byte j, element j + 16
 * in its high nibble; 5-bit kinds keep the fifth bits in a 32-bit little-endian word {@code qh} (bit j for
 * element j).
 */
final class LegacyBlocks {
    static final int QK = 32;

    private LegacyBlocks() {
    }

    /** Q8_0 (34 bytes): d, int8 q[32]; x = d * q. Reference: d = max|x| / 127, q = round(x / d). */
    static final class Q8_0 implements BlockCodec {
        @Override
        public void decode(MemorySegment b, long at, float[] out, int o) {
            float d = half(b, at);
            for (int i = 0; i < QK; i++) out[o + i] = d * b.get(ValueLayout.JAVA_BYTE, at + 2 + i);
        }

        @Override
        public void encode(float[] x, int from, ByteBuffer out) {
            float amax = 0;
            for (int i = 0; i < QK; i++) amax = Math.max(amax, Math.abs(x[from + i]));
            float d = amax / 127f;
            float id = d != 0 ? 1f / d : 0f;
            out.putShort(Float.floatToFloat16(d));
            for (int i = 0; i < QK; i++) out.put((byte) roundHalfAway(x[from + i] * id));
        }
    }

    /** Q4_0 (18 bytes): d, nibbles q[32]; x = d * (q - 8). Reference: d = x_extreme / -8. */
    static final class Q4_0 implements BlockCodec {
        @Override
        public void decode(MemorySegment b, long at, float[] out, int o) {
            float d = half(b, at);
            for (int j = 0; j < QK / 2; j++) {
                int q = u8(b, at + 2 + j);
                out[o + j] = ((q & 0xF) - 8) * d;
                out[o + j + QK / 2] = ((q >>> 4) - 8) * d;
            }
        }

        @Override
        public void encode(float[] x, int from, ByteBuffer out) {
            float max = extreme(x, from);
            float d = max / -8f;
            float id = d != 0 ? 1f / d : 0f;
            out.putShort(Float.floatToFloat16(d));
            for (int j = 0; j < QK / 2; j++) {
                int lo = Math.min(15, (int) (x[from + j] * id + 8.5f));
                int hi = Math.min(15, (int) (x[from + j + QK / 2] * id + 8.5f));
                out.put((byte) (lo | hi << 4));
            }
        }
    }

    /** Q4_1 (20 bytes): d, m, nibbles q[32]; x = d * q + m. Reference: m = min, d = (max - min) / 15. */
    static final class Q4_1 implements BlockCodec {
        @Override
        public void decode(MemorySegment b, long at, float[] out, int o) {
            float d = half(b, at);
            float m = half(b, at + 2);
            for (int j = 0; j < QK / 2; j++) {
                int q = u8(b, at + 4 + j);
                out[o + j] = (q & 0xF) * d + m;
                out[o + j + QK / 2] = (q >>> 4) * d + m;
            }
        }

        @Override
        public void encode(float[] x, int from, ByteBuffer out) {
            float[] range = minMax(x, from);
            float d = (range[1] - range[0]) / 15f;
            float id = d != 0 ? 1f / d : 0f;
            out.putShort(Float.floatToFloat16(d)).putShort(Float.floatToFloat16(range[0]));
            for (int j = 0; j < QK / 2; j++) {
                int lo = Math.min(15, (int) ((x[from + j] - range[0]) * id + 0.5f));
                int hi = Math.min(15, (int) ((x[from + j + QK / 2] - range[0]) * id + 0.5f));
                out.put((byte) (lo | hi << 4));
            }
        }
    }

    /** Q5_0 (22 bytes): d, qh, nibbles; x = d * (q - 16) with q 5 bits. Reference: d = x_extreme / -16. */
    static final class Q5_0 implements BlockCodec {
        @Override
        public void decode(MemorySegment b, long at, float[] out, int o) {
            float d = half(b, at);
            decode5(b, at + 2, at + 6, out, o, d, -16 * d);
        }

        @Override
        public void encode(float[] x, int from, ByteBuffer out) {
            float max = extreme(x, from);
            float d = max / -16f;
            float id = d != 0 ? 1f / d : 0f;
            out.putShort(Float.floatToFloat16(d));
            int[] q = new int[QK];
            for (int i = 0; i < QK; i++) q[i] = Math.min(31, (int) (x[from + i] * id + 16.5f));
            encode5(q, out);
        }
    }

    /** Q5_1 (24 bytes): d, m, qh, nibbles; x = d * q + m. Reference: m = min, d = (max - min) / 31. */
    static final class Q5_1 implements BlockCodec {
        @Override
        public void decode(MemorySegment b, long at, float[] out, int o) {
            decode5(b, at + 4, at + 8, out, o, half(b, at), half(b, at + 2));
        }

        @Override
        public void encode(float[] x, int from, ByteBuffer out) {
            float[] range = minMax(x, from);
            float d = (range[1] - range[0]) / 31f;
            float id = d != 0 ? 1f / d : 0f;
            out.putShort(Float.floatToFloat16(d)).putShort(Float.floatToFloat16(range[0]));
            int[] q = new int[QK];
            for (int i = 0; i < QK; i++) q[i] = Math.min(31, (int) ((x[from + i] - range[0]) * id + 0.5f));
            encode5(q, out);
        }
    }

    /** x = d * q + offset for the 5-bit integers whose high bits are at {@code qhAt} and nibbles at {@code qsAt}. */
    private static void decode5(MemorySegment b, long qhAt, long qsAt, float[] out, int o, float d, float offset) {
        int qh = b.get(LE_INT, qhAt);
        for (int j = 0; j < QK / 2; j++) {
            int q = u8(b, qsAt + j);
            int lo = (q & 0xF) | ((qh >>> j) & 1) << 4;
            int hi = (q >>> 4) | ((qh >>> (j + 16)) & 1) << 4;
            out[o + j] = lo * d + offset;
            out[o + j + QK / 2] = hi * d + offset;
        }
    }

    private static void encode5(int[] q, ByteBuffer out) {
        int qh = 0;
        for (int i = 0; i < QK; i++) qh |= ((q[i] >>> 4) & 1) << i;
        out.putInt(qh);
        for (int j = 0; j < QK / 2; j++) out.put((byte) ((q[j] & 0xF) | (q[j + QK / 2] & 0xF) << 4));
    }

    /** C's roundf: to nearest, ties away from zero. */
    private static int roundHalfAway(float v) {
        return (int) Math.copySign(Math.floor(Math.abs(v) + 0.5f), v);
    }

    /** The value of largest magnitude, with its sign (the first one on ties). */
    private static float extreme(float[] x, int from) {
        float amax = 0, max = 0;
        for (int i = 0; i < QK; i++) {
            float v = x[from + i];
            if (Math.abs(v) > amax) {
                amax = Math.abs(v);
                max = v;
            }
        }
        return max;
    }

    private static float[] minMax(float[] x, int from) {
        float min = Float.MAX_VALUE, max = -Float.MAX_VALUE;
        for (int i = 0; i < QK; i++) {
            min = Math.min(min, x[from + i]);
            max = Math.max(max, x[from + i]);
        }
        return new float[]{min, max};
    }
}
