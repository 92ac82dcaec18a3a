package dev.easel.engine.weights.gguf;

import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Hand-made blocks decode to the values the formats' formulas give. Each expected value is worked out per
 * element from where the format says its bits live, independently of the decoders' loops.
 */
class GgufTypeTest {

    private static short half(float v) {
        return Float.floatToFloat16(v);
    }

    private static float[] decode(GgufType type, ByteBuffer block) {
        assertThat(block.position()).isEqualTo(type.bytesPerBlock());
        return type.dequantize(MemorySegment.ofArray(block.array()), type.blockSize());
    }

    private static ByteBuffer block(GgufType type) {
        return ByteBuffer.allocate(type.bytesPerBlock()).order(ByteOrder.LITTLE_ENDIAN);
    }

    @Test
    void q8_0IsScaleTimesSignedByte() {
        ByteBuffer b = block(GgufType.Q8_0).putShort(half(0.5f));
        for (int i = 0; i < 32; i++) b.put((byte) (i * 8 - 128));
        float[] x = decode(GgufType.Q8_0, b);
        for (int i = 0; i < 32; i++) assertThat(x[i]).isEqualTo(0.5f * (i * 8 - 128));
    }

    @Test
    void q4_0KeepsElementJInTheLowNibbleAndJPlus16InTheHigh() {
        ByteBuffer b = block(GgufType.Q4_0).putShort(half(0.25f));
        for (int j = 0; j < 16; j++) b.put((byte) (j | (15 - j) << 4));
        float[] x = decode(GgufType.Q4_0, b);
        for (int j = 0; j < 16; j++) {
            assertThat(x[j]).isEqualTo(0.25f * (j - 8));
            assertThat(x[j + 16]).isEqualTo(0.25f * (15 - j - 8));
        }
    }

    @Test
    void q4_1AddsTheMinimum() {
        ByteBuffer b = block(GgufType.Q4_1).putShort(half(0.5f)).putShort(half(-1.25f));
        for (int j = 0; j < 16; j++) b.put((byte) (j | (15 - j) << 4));
        float[] x = decode(GgufType.Q4_1, b);
        for (int j = 0; j < 16; j++) {
            assertThat(x[j]).isEqualTo(0.5f * j - 1.25f);
            assertThat(x[j + 16]).isEqualTo(0.5f * (15 - j) - 1.25f);
        }
    }

    /** qh bit i is the fifth bit of element i; 0xF0F0A5C3 sets a mixed pattern over both halves. */
    private static final int QH = 0xF0F0A5C3;

    @Test
    void q5_0TakesTheFifthBitFromQh() {
        ByteBuffer b = block(GgufType.Q5_0).putShort(half(0.125f)).putInt(QH);
        for (int j = 0; j < 16; j++) b.put((byte) ((j * 3 & 0xF) | (j * 5 & 0xF) << 4));
        float[] x = decode(GgufType.Q5_0, b);
        for (int i = 0; i < 32; i++) {
            int nibble = i < 16 ? (i * 3 & 0xF) : ((i - 16) * 5 & 0xF);
            int q = nibble + (((QH >>> i) & 1) == 1 ? 16 : 0);
            assertThat(x[i]).as("element %d", i).isEqualTo(0.125f * (q - 16));
        }
    }

    @Test
    void q5_1TakesTheFifthBitAndAddsTheMinimum() {
        ByteBuffer b = block(GgufType.Q5_1).putShort(half(0.25f)).putShort(half(-2f)).putInt(QH);
        for (int j = 0; j < 16; j++) b.put((byte) ((j * 3 & 0xF) | (j * 5 & 0xF) << 4));
        float[] x = decode(GgufType.Q5_1, b);
        for (int i = 0; i < 32; i++) {
            int nibble = i < 16 ? (i * 3 & 0xF) : ((i - 16) * 5 & 0xF);
            int q = nibble + (((QH >>> i) & 1) == 1 ? 16 : 0);
            assertThat(x[i]).as("element %d", i).isEqualTo(0.25f * q - 2f);
        }
    }

    // Q4_K / Q5_K: 8 sub-blocks with 6-bit scales sc[j] and mins m[j]. Bytes 0-3 hold sc[0..3] in their low 6 bits and
    // the top 2 bits of sc[4..7]; bytes 4-7 the same for the mins; bytes 8-11 the low 4 bits of sc[4..7] (low nibble)
    // and of m[4..7] (high nibble).
    private static final int[] SC = {1, 2, 3, 63, 17, 40, 33, 50};
    private static final int[] MN = {0, 5, 62, 7, 48, 21, 16, 63};

    private static byte[] packScalesAndMins() {
        byte[] p = new byte[12];
        for (int j = 0; j < 4; j++) {
            p[j] = (byte) (SC[j] | (SC[j + 4] >> 4) << 6);
            p[j + 4] = (byte) (MN[j] | (MN[j + 4] >> 4) << 6);
            p[j + 8] = (byte) ((SC[j + 4] & 0xF) | (MN[j + 4] & 0xF) << 4);
        }
        return p;
    }

    /** Element e of a super-block: 64-value chunk e / 64 uses byte 32 * chunk + e % 32, low nibble for its first 32. */
    private static int q4kNibble(byte[] qs, int e) {
        int v = qs[32 * (e / 64) + e % 32] & 0xFF;
        return (e % 64) < 32 ? v & 0xF : v >>> 4;
    }

    @Test
    void q4_kAppliesSixBitSubBlockScalesAndMins() {
        byte[] qs = new byte[128];
        for (int i = 0; i < 128; i++) qs[i] = (byte) (i * 37 + 11);
        ByteBuffer b = block(GgufType.Q4_K).putShort(half(0.5f)).putShort(half(0.25f)).put(packScalesAndMins()).put(qs);
        float[] x = decode(GgufType.Q4_K, b);
        for (int e = 0; e < 256; e++) {
            int sub = e / 32;
            assertThat(x[e]).as("element %d", e).isEqualTo(0.5f * SC[sub] * q4kNibble(qs, e) - 0.25f * MN[sub]);
        }
    }

    @Test
    void q5_kTakesTheFifthBitFromBitTwoChunkPlusHalfOfQh() {
        byte[] qs = new byte[128];
        byte[] qh = new byte[32];
        for (int i = 0; i < 128; i++) qs[i] = (byte) (i * 53 + 7);
        for (int i = 0; i < 32; i++) qh[i] = (byte) (i * 29 + 3);
        ByteBuffer b = block(GgufType.Q5_K).putShort(half(0.5f)).putShort(half(0.25f)).put(packScalesAndMins()).put(qh).put(qs);
        float[] x = decode(GgufType.Q5_K, b);
        for (int e = 0; e < 256; e++) {
            int sub = e / 32;  // = 2 * chunk + half
            int high = (qh[e % 32] >> sub) & 1;
            int q = q4kNibble(qs, e) + 16 * high;
            assertThat(x[e]).as("element %d", e).isEqualTo(0.5f * SC[sub] * q - 0.25f * MN[sub]);
        }
    }

    @Test
    void q6_kCombinesLowNibblesAndTwoHighBitsWithInt8Scales() {
        byte[] ql = new byte[128], qh = new byte[64], scales = new byte[16];
        for (int i = 0; i < 128; i++) ql[i] = (byte) (i * 71 + 5);
        for (int i = 0; i < 64; i++) qh[i] = (byte) (i * 97 + 13);
        for (int i = 0; i < 16; i++) scales[i] = (byte) (i * 9 - 70);
        ByteBuffer b = block(GgufType.Q6_K).put(ql).put(qh).put(scales).putShort(half(0.125f));
        float[] x = decode(GgufType.Q6_K, b);
        for (int e = 0; e < 256; e++) {
            int h = e / 128, r = e % 128, run = r / 32, l = r % 32;
            // runs 0 and 1 take the low nibble of ql[l] and ql[l + 32], runs 2 and 3 the high nibbles
            int lowByte = ql[64 * h + l + (run % 2) * 32] & 0xFF;
            int low = run < 2 ? lowByte & 0xF : lowByte >>> 4;
            int high = ((qh[32 * h + l] & 0xFF) >>> (2 * run)) & 3;
            int q = (low | high << 4) - 32;
            int scale = scales[e / 16];
            assertThat(x[e]).as("element %d", e).isEqualTo(0.125f * scale * q);
        }
    }

    @Test
    void floatTypesConvertAsStored() {
        ByteBuffer f16 = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putShort(half(1.5f)).putShort(half(-0.0625f));
        assertThat(GgufType.F16.dequantize(MemorySegment.ofArray(f16.array()), 2)).containsExactly(1.5f, -0.0625f);
        ByteBuffer bf16 = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putShort((short) 0x3FC0).putShort((short) 0xC100);
        assertThat(GgufType.BF16.dequantize(MemorySegment.ofArray(bf16.array()), 2)).containsExactly(1.5f, -8f);
        ByteBuffer f32 = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putFloat(3.25f);
        assertThat(GgufType.F32.dequantize(MemorySegment.ofArray(f32.array()), 1)).containsExactly(3.25f);
    }

    @Test
    void blockSizesAndIdsAreThoseOfGgml() {
        assertThat(GgufType.Q8_0.id()).isEqualTo(8);
        assertThat(GgufType.Q4_K.bytesPerBlock()).isEqualTo(2 + 2 + 12 + 128);
        assertThat(GgufType.Q5_K.bytesPerBlock()).isEqualTo(2 + 2 + 12 + 32 + 128);
        assertThat(GgufType.Q6_K.bytesPerBlock()).isEqualTo(128 + 64 + 16 + 2);
        assertThat(GgufType.BF16.id()).isEqualTo(30);
    }
}
