package dev.easel.engine.weights.gguf;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;

import static dev.easel.engine.weights.gguf.BlockCodec.asHalf;
import static dev.easel.engine.weights.gguf.BlockCodec.half;
import static dev.easel.engine.weights.gguf.BlockCodec.nearestInt;
import static dev.easel.engine.weights.gguf.BlockCodec.u8;

/**
 * The "K" super-block formats: 256 values in sub-blocks whose scales (and for Q4_K/Q5_K mins) are themselves
 * quantized against one fp16 super-block scale.
 *
 * <p>Q4_K and Q5_K: 8 sub-blocks of 32, each with a 6-bit scale {@code sc} and 6-bit min {@code m}
 * packed into 12 bytes; {@code x = d * sc * q - dmin * m}. Q6_K: 16 sub-blocks of 16 with int8 scales;
 * {@code x = d * sc * (q - 32)}. Encoding fits each sub-block by weighted least squares over a few candidate
 * scales, as ggml's reference quantizers do, then quantizes the sub-block scales to 6 or 8 bits and
 * requantizes the values against them.
 */
final class KBlocks {
    static final int QK_K = 256;
    private static final float GROUP_MAX_EPS = 1e-15f;

    private KBlocks() {
    }

    /** Q4_K (144 bytes): d, dmin, scales[12], nibbles[128] (a 64-value chunk: low nibbles, then high). */
    static final class Q4_K implements BlockCodec {
        @Override
        public void decode(MemorySegment b, long at, float[] out, int o) {
            float d = half(b, at);
            float dmin = half(b, at + 2);
            long scales = at + 4, qs = at + 16;
            for (int chunk = 0; chunk < 4; chunk++) {
                int[] lo = scaleMin(b, scales, 2 * chunk), hi = scaleMin(b, scales, 2 * chunk + 1);
                for (int l = 0; l < 32; l++) {
                    int q = u8(b, qs + 32 * chunk + l);
                    out[o + 64 * chunk + l] = d * lo[0] * (q & 0xF) - dmin * lo[1];
                    out[o + 64 * chunk + 32 + l] = d * hi[0] * (q >>> 4) - dmin * hi[1];
                }
            }
        }

        @Override
        public void encode(float[] x, int from, ByteBuffer out) {
            int[] levels = new int[QK_K];
            encodeScaleMin(x, from, 15, -1f, 20, levels, out);
            for (int chunk = 0; chunk < 4; chunk++) {
                for (int l = 0; l < 32; l++) {
                    out.put((byte) (levels[64 * chunk + l] | levels[64 * chunk + 32 + l] << 4));
                }
            }
        }
    }

    /** Q5_K (176 bytes): d, dmin, scales[12], qh[32] (fifth bits), nibbles[128]. */
    static final class Q5_K implements BlockCodec {
        @Override
        public void decode(MemorySegment b, long at, float[] out, int o) {
            float d = half(b, at);
            float dmin = half(b, at + 2);
            long scales = at + 4, qh = at + 16, qs = at + 48;
            for (int chunk = 0; chunk < 4; chunk++) {
                int[] lo = scaleMin(b, scales, 2 * chunk), hi = scaleMin(b, scales, 2 * chunk + 1);
                for (int l = 0; l < 32; l++) {
                    int q = u8(b, qs + 32 * chunk + l);
                    int h = u8(b, qh + l);
                    int qLo = (q & 0xF) | ((h >>> (2 * chunk)) & 1) << 4;
                    int qHi = (q >>> 4) | ((h >>> (2 * chunk + 1)) & 1) << 4;
                    out[o + 64 * chunk + l] = d * lo[0] * qLo - dmin * lo[1];
                    out[o + 64 * chunk + 32 + l] = d * hi[0] * qHi - dmin * hi[1];
                }
            }
        }

        @Override
        public void encode(float[] x, int from, ByteBuffer out) {
            int[] levels = new int[QK_K];
            encodeScaleMin(x, from, 31, -0.5f, 15, levels, out);
            byte[] qh = new byte[32];
            for (int chunk = 0; chunk < 4; chunk++) {
                for (int l = 0; l < 32; l++) {
                    qh[l] |= (byte) (((levels[64 * chunk + l] >>> 4) & 1) << (2 * chunk)
                            | ((levels[64 * chunk + 32 + l] >>> 4) & 1) << (2 * chunk + 1));
                }
            }
            out.put(qh);
            for (int chunk = 0; chunk < 4; chunk++) {
                for (int l = 0; l < 32; l++) {
                    out.put((byte) ((levels[64 * chunk + l] & 0xF) | (levels[64 * chunk + 32 + l] & 0xF) << 4));
                }
            }
        }
    }

    /**
     * Q6_K (210 bytes): ql[128] (low nibbles), qh[64] (high 2 bits), int8 scales[16], d. A 128-value half holds
     * four runs of 32: ql[l] low/high nibble and ql[l + 32] low/high nibble, with their two high bits at
     * shifts 0, 4, 2, 6 of qh[l] (runs 0, 2, 1, 3).
     */
    static final class Q6_K implements BlockCodec {
        @Override
        public void decode(MemorySegment b, long at, float[] out, int o) {
            float d = half(b, at + 208);
            for (int h = 0; h < 2; h++) {
                long ql = at + 64L * h, qh = at + 128 + 32L * h, sc = at + 192 + 8L * h;
                for (int l = 0; l < 32; l++) {
                    int is = l / 16;
                    int a = u8(b, ql + l), c = u8(b, ql + l + 32), hb = u8(b, qh + l);
                    int q1 = ((a & 0xF) | (hb & 3) << 4) - 32;
                    int q2 = ((c & 0xF) | ((hb >>> 2) & 3) << 4) - 32;
                    int q3 = ((a >>> 4) | ((hb >>> 4) & 3) << 4) - 32;
                    int q4 = ((c >>> 4) | ((hb >>> 6) & 3) << 4) - 32;
                    int base = o + 128 * h;
                    out[base + l] = d * scale(b, sc, is) * q1;
                    out[base + l + 32] = d * scale(b, sc, is + 2) * q2;
                    out[base + l + 64] = d * scale(b, sc, is + 4) * q3;
                    out[base + l + 96] = d * scale(b, sc, is + 6) * q4;
                }
            }
        }

        private static int scale(MemorySegment b, long at, int i) {
            return b.get(ValueLayout.JAVA_BYTE, at + i);
        }

        @Override
        public void encode(float[] x, int from, ByteBuffer out) {
            int[] levels = new int[QK_K];
            float[] scales = new float[16];
            float maxScale = 0, maxAbsScale = 0;
            for (int ib = 0; ib < 16; ib++) {
                scales[ib] = fitSymmetric(x, from + 16 * ib, 16, 32, levels, 16 * ib);
                if (Math.abs(scales[ib]) > maxAbsScale) {
                    maxAbsScale = Math.abs(scales[ib]);
                    maxScale = scales[ib];
                }
            }
            byte[] quantizedScales = new byte[16];
            float d = 0;
            if (maxAbsScale < GROUP_MAX_EPS) {
                java.util.Arrays.fill(levels, 0);
            } else {
                float iscale = -128f / maxScale;
                d = asHalf(1 / iscale);
                for (int ib = 0; ib < 16; ib++) quantizedScales[ib] = (byte) Math.min(127, nearestInt(iscale * scales[ib]));
                for (int j = 0; j < 16; j++) {
                    float dj = d * quantizedScales[j];
                    if (dj == 0) continue;
                    for (int ii = 0; ii < 16; ii++) {
                        levels[16 * j + ii] = Math.clamp(nearestInt(x[from + 16 * j + ii] / dj), -32, 31) + 32;
                    }
                }
            }
            byte[] ql = new byte[128], qh = new byte[64];
            for (int h = 0; h < 2; h++) {
                for (int l = 0; l < 32; l++) {
                    int base = 128 * h;
                    int q1 = levels[base + l], q2 = levels[base + l + 32], q3 = levels[base + l + 64], q4 = levels[base + l + 96];
                    ql[64 * h + l] = (byte) ((q1 & 0xF) | (q3 & 0xF) << 4);
                    ql[64 * h + l + 32] = (byte) ((q2 & 0xF) | (q4 & 0xF) << 4);
                    qh[32 * h + l] = (byte) ((q1 >>> 4) | (q2 >>> 4) << 2 | (q3 >>> 4) << 4 | (q4 >>> 4) << 6);
                }
            }
            out.put(ql).put(qh).put(quantizedScales).putShort(Float.floatToFloat16(d));
        }
    }

    /** Sub-block j's 6-bit scale and min from the 12 packed bytes: {scale, min}. */
    static int[] scaleMin(MemorySegment b, long at, int j) {
        if (j < 4) return new int[]{u8(b, at + j) & 63, u8(b, at + j + 4) & 63};
        int sc = (u8(b, at + j + 4) & 0xF) | (u8(b, at + j - 4) >>> 6) << 4;
        int m = (u8(b, at + j + 4) >>> 4) | (u8(b, at + j) >>> 6) << 4;
        return new int[]{sc, m};
    }

    /**
     * Q4_K/Q5_K common part: fits each 32-value sub-block to {@code scale * q - min} (q in [0, nmax]), quantizes
     * the scales and mins to 6 bits against d = maxScale / 63 and dmin = maxMin / 63, writes d, dmin and the
     * 12 scale bytes to {@code out}, and leaves each value's level in {@code levels}.
     */
    private static void encodeScaleMin(float[] x, int from, int nmax, float rmin, int steps, int[] levels, ByteBuffer out) {
        float[] scales = new float[8], mins = new float[8], weights = new float[32];
        float maxScale = 0, maxMin = 0;
        for (int j = 0; j < 8; j++) {
            float sumX2 = 0;
            for (int l = 0; l < 32; l++) sumX2 += x[from + 32 * j + l] * x[from + 32 * j + l];
            float avX = (float) Math.sqrt(sumX2 / 32);
            for (int l = 0; l < 32; l++) weights[l] = avX + Math.abs(x[from + 32 * j + l]);
            float[] fit = fitWithMin(x, from + 32 * j, weights, nmax, rmin, 0.1f, steps, levels, 32 * j);
            scales[j] = fit[0];
            mins[j] = fit[1];
            maxScale = Math.max(maxScale, scales[j]);
            maxMin = Math.max(maxMin, mins[j]);
        }
        float invScale = maxScale > 0 ? 63f / maxScale : 0f;
        float invMin = maxMin > 0 ? 63f / maxMin : 0f;
        byte[] packed = new byte[12];
        int[] ls = new int[8], lm = new int[8];
        for (int j = 0; j < 8; j++) {
            ls[j] = Math.min(63, nearestInt(invScale * scales[j]));
            lm[j] = Math.min(63, nearestInt(invMin * mins[j]));
            if (j < 4) {
                packed[j] = (byte) ls[j];
                packed[j + 4] = (byte) lm[j];
            } else {
                packed[j + 4] = (byte) ((ls[j] & 0xF) | (lm[j] & 0xF) << 4);
                packed[j - 4] |= (byte) ((ls[j] >>> 4) << 6);
                packed[j] |= (byte) ((lm[j] >>> 4) << 6);
            }
        }
        float d = asHalf(maxScale / 63f), dmin = asHalf(maxMin / 63f);
        out.putShort(Float.floatToFloat16(maxScale / 63f)).putShort(Float.floatToFloat16(maxMin / 63f)).put(packed);
        for (int j = 0; j < 8; j++) {
            float dj = d * ls[j];
            if (dj == 0) continue;
            float mj = dmin * lm[j];
            for (int l = 0; l < 32; l++) levels[32 * j + l] = Math.clamp(nearestInt((x[from + 32 * j + l] + mj) / dj), 0, nmax);
        }
    }

    /**
     * Weighted least-squares fit of n = 32 values to {@code scale * q - min}, q in [0, nmax], min >= 0:
     * starting from the min/max mapping, tries {@code steps + 1} candidate inverse scales around it and keeps the
     * one with the smallest weighted squared error. Returns {scale, min}; the levels go to {@code levels[at..]}.
     */
    static float[] fitWithMin(float[] x, int from, float[] w, int nmax, float rmin, float rdelta, int steps, int[] levels, int at) {
        int n = 32;
        float min = x[from], max = x[from], sumW = 0, sumX = 0;
        for (int i = 0; i < n; i++) {
            min = Math.min(min, x[from + i]);
            max = Math.max(max, x[from + i]);
            sumW += w[i];
            sumX += w[i] * x[from + i];
        }
        if (min > 0) min = 0;
        if (max == min) {
            for (int i = 0; i < n; i++) levels[at + i] = 0;
            return new float[]{0f, -min};
        }
        float iscale = nmax / (max - min);
        float scale = 1 / iscale;
        float bestError = 0;
        for (int i = 0; i < n; i++) {
            int l = Math.clamp(nearestInt(iscale * (x[from + i] - min)), 0, nmax);
            levels[at + i] = l;
            float diff = scale * l + min - x[from + i];
            bestError += w[i] * diff * diff;
        }
        int[] trial = new int[n];
        for (int step = 0; step <= steps; step++) {
            iscale = (rmin + rdelta * step + nmax) / (max - min);
            float sumL = 0, sumL2 = 0, sumXL = 0;
            for (int i = 0; i < n; i++) {
                int l = Math.clamp(nearestInt(iscale * (x[from + i] - min)), 0, nmax);
                trial[i] = l;
                sumL += w[i] * l;
                sumL2 += w[i] * l * l;
                sumXL += w[i] * l * x[from + i];
            }
            float det = sumW * sumL2 - sumL * sumL;
            if (det <= 0) continue;
            float thisScale = (sumW * sumXL - sumX * sumL) / det;
            float thisMin = (sumL2 * sumX - sumL * sumXL) / det;
            if (thisMin > 0) {
                thisMin = 0;
                thisScale = sumXL / sumL2;
            }
            float error = 0;
            for (int i = 0; i < n; i++) {
                float diff = thisScale * trial[i] + thisMin - x[from + i];
                error += w[i] * diff * diff;
            }
            if (error < bestError) {
                System.arraycopy(trial, 0, levels, at, n);
                bestError = error;
                scale = thisScale;
                min = thisMin;
            }
        }
        return new float[]{scale, -min};
    }

    /**
     * Fit of n values to {@code scale * q}, q in [-nmax, nmax - 1], weighting each value by its square: the
     * largest-magnitude value maps to -nmax, then 18 nearby inverse scales are tried and the one that best
     * explains the values (largest sum(w x q)^2 / sum(w q^2)) is kept. Levels (q + nmax) go to {@code levels[at..]}.
     */
    static float fitSymmetric(float[] x, int from, int n, int nmax, int[] levels, int at) {
        float amax = 0, max = 0;
        for (int i = 0; i < n; i++) {
            if (Math.abs(x[from + i]) > amax) {
                amax = Math.abs(x[from + i]);
                max = x[from + i];
            }
        }
        if (amax < GROUP_MAX_EPS) {
            for (int i = 0; i < n; i++) levels[at + i] = 0;
            return 0f;
        }
        float iscale = -nmax / max;
        float sumLX = 0, sumL2 = 0;
        for (int i = 0; i < n; i++) {
            float v = x[from + i];
            int l = Math.clamp(nearestInt(iscale * v), -nmax, nmax - 1);
            levels[at + i] = l + nmax;
            float w = v * v;
            sumLX += w * v * l;
            sumL2 += w * l * l;
        }
        float scale = sumL2 != 0 ? sumLX / sumL2 : 0f;
        float best = scale * sumLX;
        for (int step = -9; step <= 9; step++) {
            if (step == 0) continue;
            iscale = -(nmax + 0.1f * step) / max;
            sumLX = 0;
            sumL2 = 0;
            for (int i = 0; i < n; i++) {
                float v = x[from + i];
                int l = Math.clamp(nearestInt(iscale * v), -nmax, nmax - 1);
                float w = v * v;
                sumLX += w * v * l;
                sumL2 += w * l * l;
            }
            if (sumL2 > 0 && sumLX * sumLX > best * sumL2) {
                for (int i = 0; i < n; i++) levels[at + i] = Math.clamp(nearestInt(iscale * x[from + i]), -nmax, nmax - 1) + nmax;
                scale = sumLX / sumL2;
                best = scale * sumLX;
            }
        }
        return scale;
    }
}
