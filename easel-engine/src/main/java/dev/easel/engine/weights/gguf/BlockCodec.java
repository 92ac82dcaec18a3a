package dev.easel.engine.weights.gguf;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * One ggml block format: how one block of {@link GgufType#blockSize()} values is stored in
 * {@link GgufType#bytesPerBlock()} bytes. Decoding follows the format's dequantization formula; encoding
 * follows ggml's reference quantizer for the format (our own code, written from the formulas).
 */
interface BlockCodec {
    ValueLayout.OfShort LE_SHORT = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    ValueLayout.OfInt LE_INT = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /** Decodes the block at {@code block[at..]} into {@code out[outAt .. outAt + blockSize)}. */
    void decode(MemorySegment block, long at, float[] out, int outAt);

    /** Encodes {@code in[inAt .. inAt + blockSize)} as one block, appended to {@code out} (little-endian). */
    void encode(float[] in, int inAt, ByteBuffer out);

    static float half(MemorySegment s, long at) {
        return Float.float16ToFloat(s.get(LE_SHORT, at));
    }

    static int u8(MemorySegment s, long at) {
        return s.get(ValueLayout.JAVA_BYTE, at) & 0xFF;
    }

    /** A float rounded to fp16 and back: what a reader of the stored half sees. */
    static float asHalf(float v) {
        return Float.float16ToFloat(Float.floatToFloat16(v));
    }

    /** ggml's nearest_int: round to nearest, ties to even (the FPU's default mode). */
    static int nearestInt(float v) {
        return (int) Math.rint(v);
    }
}
