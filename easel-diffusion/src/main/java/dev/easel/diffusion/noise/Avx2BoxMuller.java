package dev.easel.diffusion.noise;

/**
 * The Box-Muller transform of PyTorch's float32 {@code normal_fill} kernel as it runs on x86-64 CPUs with AVX2
 * (the kernel PyTorch dispatches to there, AVX-512 machines included), reproduced bit for bit in scalar Java.
 *
 * <p>A block of 16 uniforms {@code u[0..15]} in [0, 1) becomes 16 normals: for lane j in 0..7,
 * {@code r = sqrt(-2 ln(1 - u[j]))}, {@code t = 2 pi u[j+8]}, {@code out[j] = r cos t}, {@code out[j+8] = r sin t}.
 * The logarithm, sine and cosine are not libm's: they are the single-precision Cephes polynomial approximations
 * (range reduction by powers of two for the logarithm, by multiples of pi/4 in three pieces for the sine and
 * cosine), evaluated lane-wise. The native kernel is compiled with floating-point contraction, so the compiler
 * fuses each multiplication whose only use is an addition or subtraction into one fused multiply-add (the
 * first such multiplication, in program order, when both operands of an addition are products). Every
 * operation below is ordered and fused exactly that way, which is what makes the results bit-identical;
 * changing any {@code Math.fma} into a separate multiply and add breaks that.
 */
final class Avx2BoxMuller {
    private Avx2BoxMuller() {
    }

    private static final float TWO_PI = (float) (2.0 * Math.PI);

    // ln(x) for x in (0, 1]: x = m * 2^e with m in [sqrt(1/2), sqrt(2)), ln x = ln m + e ln 2
    private static final float SQRT_HALF = (float) 0.707106781186547524;
    private static final float LOG_P0 = (float) 7.0376836292E-2;
    private static final float LOG_P1 = (float) -1.1514610310E-1;
    private static final float LOG_P2 = (float) 1.1676998740E-1;
    private static final float LOG_P3 = (float) -1.2420140846E-1;
    private static final float LOG_P4 = (float) 1.4249322787E-1;
    private static final float LOG_P5 = (float) -1.6668057665E-1;
    private static final float LOG_P6 = (float) 2.0000714765E-1;
    private static final float LOG_P7 = (float) -2.4999993993E-1;
    private static final float LOG_P8 = (float) 3.3333331174E-1;
    /** ln 2 = LN2_HI + LN2_LO, LN2_HI with few mantissa bits so that e * LN2_HI is exact. */
    private static final float LN2_LO = (float) -2.12194440e-4;
    private static final float LN2_HI = (float) 0.693359375;
    private static final int SMALLEST_NORMAL_BITS = 0x00800000;
    private static final int EXPONENT_BITS = 0x7f800000;

    // sin / cos: x reduced by y * pi/4 with pi/4 = DP1 + DP2 + DP3
    private static final float FOUR_OVER_PI = (float) 1.27323954473516;
    private static final float MINUS_DP1 = (float) -0.78515625;
    private static final float MINUS_DP2 = (float) -2.4187564849853515625e-4;
    private static final float MINUS_DP3 = (float) -3.77489497744594108e-8;
    private static final float SIN_P0 = (float) -1.9515295891E-4;
    private static final float SIN_P1 = (float) 8.3321608736E-3;
    private static final float SIN_P2 = (float) -1.6666654611E-1;
    private static final float COS_P0 = (float) 2.443315711809948E-005;
    private static final float COS_P1 = (float) -1.388731625493765E-003;
    private static final float COS_P2 = (float) 4.166664568298827E-002;
    private static final int SIGN_BIT = 0x80000000;

    /** Turns {@code data[offset..offset+16)}, uniforms in [0, 1), into 16 standard normals in place. */
    static void transform16(float[] data, int offset) {
        for (int j = 0; j < 8; j++) {
            float u1 = 1.0f - data[offset + j];
            float u2 = data[offset + j + 8];
            float radius = (float) Math.sqrt(-2.0f * log(u1));
            float theta = TWO_PI * u2;
            sinCosScaled(theta, radius, data, offset + j, offset + j + 8);
        }
    }

    /** Natural logarithm, Cephes single-precision algorithm; positive finite arguments only. */
    static float log(float x) {
        int bits = Float.floatToRawIntBits(Math.max(x, Float.intBitsToFloat(SMALLEST_NORMAL_BITS)));
        int biasedExponent = bits >>> 23;
        // mantissa with the exponent of 0.5: m in [0.5, 1)
        float m = Float.intBitsToFloat((bits & ~EXPONENT_BITS) | Float.floatToRawIntBits(0.5f));
        float e = (float) (biasedExponent - 0x7f);
        e = e + 1.0f;
        boolean small = m < SQRT_HALF;
        float keep = small ? m : 0.0f;
        m = m - 1.0f;
        e = e - (small ? 1.0f : 0.0f);
        m = m + keep;

        float z = m * m;
        float y = Math.fma(LOG_P0, m, LOG_P1);
        y = Math.fma(y, m, LOG_P2);
        y = Math.fma(y, m, LOG_P3);
        y = Math.fma(y, m, LOG_P4);
        y = Math.fma(y, m, LOG_P5);
        y = Math.fma(y, m, LOG_P6);
        y = Math.fma(y, m, LOG_P7);
        y = Math.fma(y, m, LOG_P8);
        y = y * m;
        y = Math.fma(y, z, e * LN2_LO);
        y = Math.fma(-z, 0.5f, y);
        float r = m + y;
        return Math.fma(e, LN2_HI, r);
    }

    /**
     * Cephes single-precision sine and cosine of {@code x} (both from one range reduction), multiplied by
     * {@code scale}: stores {@code scale * cos x} at {@code out[cosAt]} and {@code scale * sin x} at
     * {@code out[sinAt]}. Accurate for |x| well below 8192.
     */
    static void sinCosScaled(float x, float scale, float[] out, int cosAt, int sinAt) {
        int signSin = Float.floatToRawIntBits(x) & SIGN_BIT;
        float a = Math.abs(x);

        int octant = (int) (a * FOUR_OVER_PI);
        octant = (octant + 1) & ~1;
        float y = (float) octant;
        int swapSin = (octant & 4) << 29;
        boolean sinUsesSinPoly = (octant & 2) == 0;
        int swapCos = (~(octant - 2) & 4) << 29;
        signSin ^= swapSin;

        a = Math.fma(y, MINUS_DP1, a);
        a = Math.fma(y, MINUS_DP2, a);
        a = Math.fma(y, MINUS_DP3, a);

        float z = a * a;
        float c = Math.fma(COS_P0, z, COS_P1);
        c = Math.fma(c, z, COS_P2);
        c = c * z;
        c = Math.fma(c, z, -(z * 0.5f));
        c = c + 1.0f;

        float s = Math.fma(SIN_P0, z, SIN_P1);
        s = Math.fma(s, z, SIN_P2);
        s = s * z;
        s = Math.fma(s, a, a);

        // lane select as the vector code does it: masked parts are +0.0 and are added / subtracted
        float sinFromSin = sinUsesSinPoly ? s : 0.0f;
        float sinFromCos = sinUsesSinPoly ? 0.0f : c;
        float cosFromSin = s - sinFromSin;
        float cosFromCos = c - sinFromCos;
        float sin = sinFromCos + sinFromSin;
        float cos = cosFromCos + cosFromSin;

        sin = Float.intBitsToFloat(Float.floatToRawIntBits(sin) ^ signSin);
        cos = Float.intBitsToFloat(Float.floatToRawIntBits(cos) ^ swapCos);
        // the kernel ends with fma(n, std, mean) for std 1, mean 0: exact, except that -0.0 becomes +0.0
        out[cosAt] = scale * cos + 0.0f;
        out[sinAt] = scale * sin + 0.0f;
    }
}
