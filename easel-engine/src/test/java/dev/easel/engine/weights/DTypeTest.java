package dev.easel.engine.weights;

import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Every bit pattern of every 8- and 16-bit float type is converted in bulk and compared with the value
 * decoded independently here, in double arithmetic, from sign, exponent and mantissa fields.
 */
class DTypeTest {

    /** A minifloat's value from its fields; ieeeSpecials=false is the "fn" variant (no infinities, only S.1..1.1..1 is NaN). */
    private static double decode(int bits, int exponentBits, int mantissaBits, int bias, boolean ieeeSpecials) {
        int maxExponent = (1 << exponentBits) - 1;
        int maxMantissa = (1 << mantissaBits) - 1;
        double sign = ((bits >>> (exponentBits + mantissaBits)) & 1) == 1 ? -1.0 : 1.0;
        int exponent = (bits >>> mantissaBits) & maxExponent;
        int mantissa = bits & maxMantissa;
        double fraction = mantissa / (double) (1 << mantissaBits);
        if (ieeeSpecials && exponent == maxExponent) {
            return mantissa == 0 ? sign * Double.POSITIVE_INFINITY : Double.NaN;
        }
        if (!ieeeSpecials && exponent == maxExponent && mantissa == maxMantissa) {
            return Double.NaN;
        }
        if (exponent == 0) {
            return sign * fraction * Math.pow(2, 1 - bias);
        }
        return sign * (1 + fraction) * Math.pow(2, exponent - bias);
    }

    private static float[] convertAll(DType type, int patterns, int repeats) {
        int count = patterns * repeats;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment source = arena.allocate((long) count * type.byteSize());
            for (int i = 0; i < count; i++) {
                int bits = i % patterns;
                if (type.byteSize() == 1) {
                    source.set(ValueLayout.JAVA_BYTE, i, (byte) bits);
                } else {
                    source.set(ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 2L * i, (short) bits);
                }
            }
            MemorySegment target = arena.allocate((long) count * Float.BYTES);
            type.toFloat32(source, target, count);
            return target.toArray(ValueLayout.JAVA_FLOAT);
        }
    }

    private static void assertAllPatterns(DType type, int exponentBits, int mantissaBits, int bias, boolean ieeeSpecials) {
        int patterns = 1 << (1 + exponentBits + mantissaBits);
        int repeats = 3; // more than one conversion chunk, so chunk boundaries are crossed too
        float[] converted = convertAll(type, patterns, repeats);
        for (int i = 0; i < converted.length; i++) {
            int bits = i % patterns;
            float expected = (float) decode(bits, exponentBits, mantissaBits, bias, ieeeSpecials);
            // floatToIntBits tells -0.0 from 0.0 and treats every NaN as one value
            assertThat(Float.floatToIntBits(converted[i]))
                    .as("%s pattern 0x%x: got %s, expected %s", type, bits, converted[i], expected)
                    .isEqualTo(Float.floatToIntBits(expected));
        }
    }

    @Test
    void f16AllPatternsIncludingSubnormalsInfinitiesNanAndNegativeZero() {
        assertAllPatterns(DType.F16, 5, 10, 15, true);
    }

    @Test
    void bf16AllPatterns() {
        assertAllPatterns(DType.BF16, 8, 7, 127, true);
    }

    @Test
    void f8e4m3fnAllPatterns() {
        assertAllPatterns(DType.F8_E4M3, 4, 3, 7, false);
    }

    @Test
    void f8e5m2AllPatterns() {
        assertAllPatterns(DType.F8_E5M2, 5, 2, 15, true);
    }

    @Test
    void knownLandmarksOfEachType() {
        float[] half = convertAll(DType.F16, 1 << 16, 1);
        assertThat(half[0x3C00]).isEqualTo(1.0f);
        assertThat(half[0x7BFF]).isEqualTo(65504f);
        assertThat(half[0x0001]).isEqualTo((float) Math.pow(2, -24));
        assertThat(half[0xFC00]).isEqualTo(Float.NEGATIVE_INFINITY);
        assertThat(Float.floatToRawIntBits(half[0x8000])).isEqualTo(0x80000000);
        assertThat(half[0x7E00]).isNaN();

        float[] brain = convertAll(DType.BF16, 1 << 16, 1);
        assertThat(brain[0x3F80]).isEqualTo(1.0f);
        assertThat(brain[0xC040]).isEqualTo(-3.0f);
        assertThat(brain[0x7F80]).isEqualTo(Float.POSITIVE_INFINITY);
        assertThat(brain[0x0001]).isEqualTo((float) Math.pow(2, -133));

        float[] e4m3 = convertAll(DType.F8_E4M3, 256, 1);
        assertThat(e4m3[0x7E]).isEqualTo(448f);          // largest finite
        assertThat(e4m3[0x78]).isEqualTo(256f);          // all-ones exponent is still finite in the fn variant
        assertThat(e4m3[0x01]).isEqualTo((float) Math.pow(2, -9));
        assertThat(e4m3[0x38]).isEqualTo(1.0f);
        assertThat(e4m3[0x7F]).isNaN();
        assertThat(e4m3[0xFF]).isNaN();
        assertThat(Float.floatToRawIntBits(e4m3[0x80])).isEqualTo(0x80000000);

        float[] e5m2 = convertAll(DType.F8_E5M2, 256, 1);
        assertThat(e5m2[0x7B]).isEqualTo(57344f);
        assertThat(e5m2[0x7C]).isEqualTo(Float.POSITIVE_INFINITY);
        assertThat(e5m2[0xFC]).isEqualTo(Float.NEGATIVE_INFINITY);
        assertThat(e5m2[0x7D]).isNaN();
        assertThat(e5m2[0x01]).isEqualTo((float) Math.pow(2, -16));
        assertThat(e5m2[0x3C]).isEqualTo(1.0f);
    }

    @Test
    void f32IsCopiedBitExactFromLittleEndian() {
        float[] values = {1.5f, -0.0f, Float.MIN_VALUE, Float.MAX_VALUE, Float.NEGATIVE_INFINITY, Float.intBitsToFloat(0x7FC00123)};
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment source = arena.allocate(values.length * 4L);
            for (int i = 0; i < values.length; i++) {
                source.set(ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 4L * i, values[i]);
            }
            MemorySegment target = arena.allocate(values.length * 4L);
            DType.F32.toFloat32(source, target, values.length);
            for (int i = 0; i < values.length; i++) {
                assertThat(Float.floatToRawIntBits(target.getAtIndex(ValueLayout.JAVA_FLOAT, i)))
                        .isEqualTo(Float.floatToRawIntBits(values[i]));
            }
        }
    }

    @Test
    void f64IsRoundedToNearestFloat() {
        double[] values = {1.0 / 3, 1e300, -1e-50, -0.0, Double.NaN, 65504.0};
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment source = arena.allocate(values.length * 8L);
            for (int i = 0; i < values.length; i++) {
                source.set(ValueLayout.JAVA_DOUBLE_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 8L * i, values[i]);
            }
            MemorySegment target = arena.allocate(values.length * 4L);
            DType.F64.toFloat32(source, target, values.length);
            float[] out = target.toArray(ValueLayout.JAVA_FLOAT);
            assertThat(out[0]).isEqualTo(0.33333334f);
            assertThat(out[1]).isEqualTo(Float.POSITIVE_INFINITY);
            assertThat(Float.floatToRawIntBits(out[2])).isEqualTo(0x80000000);
            assertThat(Float.floatToRawIntBits(out[3])).isEqualTo(0x80000000);
            assertThat(out[4]).isNaN();
            assertThat(out[5]).isEqualTo(65504f);
        }
    }

    @Test
    void integerTypesAreNotConverted() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment s = arena.allocate(64);
            assertThatThrownBy(() -> DType.I64.toFloat32(s, s, 1)).isInstanceOf(UnsupportedOperationException.class)
                    .hasMessageContaining("I64");
        }
    }

    @Test
    void sizesAndNames() {
        assertThat(DType.fromSafetensorsName("F8_E4M3")).contains(DType.F8_E4M3);
        assertThat(DType.fromSafetensorsName("BF16")).contains(DType.BF16);
        assertThat(DType.fromSafetensorsName("C64")).isEmpty();
        assertThat(DType.F64.byteSize()).isEqualTo(8);
        assertThat(DType.BF16.byteSize()).isEqualTo(2);
        assertThat(DType.F8_E5M2.byteSize()).isEqualTo(1);
        assertThat(DType.I32.byteSize()).isEqualTo(4);
        assertThat(DType.BOOL.isFloatingPoint()).isFalse();
    }
}
