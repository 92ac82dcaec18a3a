package dev.easel.engine.weights.gguf;

import dev.easel.engine.weights.DType;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.util.Optional;

/**
 * The ggml tensor types this reader supports: plain floats and the block formats, each with its id in the
 * file, values per block and bytes per block. Blocks run along a row (a GGUF tensor's first dimension).
 */
public enum GgufType {
    F32(0, 1, 4, null),
    F16(1, 1, 2, null),
    Q4_0(2, 32, 18, new LegacyBlocks.Q4_0()),
    Q4_1(3, 32, 20, new LegacyBlocks.Q4_1()),
    Q5_0(6, 32, 22, new LegacyBlocks.Q5_0()),
    Q5_1(7, 32, 24, new LegacyBlocks.Q5_1()),
    Q8_0(8, 32, 34, new LegacyBlocks.Q8_0()),
    Q4_K(12, 256, 144, new KBlocks.Q4_K()),
    Q5_K(13, 256, 176, new KBlocks.Q5_K()),
    Q6_K(14, 256, 210, new KBlocks.Q6_K()),
    BF16(30, 1, 2, null);

    /** ggml's names for the type ids this reader does not support, for error messages. */
    private static final String[] OTHER_NAMES = {
            null, null, null, null, "Q4_2 (removed)", "Q4_3 (removed)", null, null, null, "Q8_1", "Q2_K", "Q3_K",
            null, null, null, "Q8_K", "IQ2_XXS", "IQ2_XS", "IQ3_XXS", "IQ1_S", "IQ4_NL", "IQ3_S", "IQ2_S", "IQ4_XS",
            "I8", "I16", "I32", "I64", "F64", "IQ1_M", null, "Q4_0_4_4 (removed)", "Q4_0_4_8 (removed)",
            "Q4_0_8_8 (removed)", "TQ1_0", "TQ2_0", "IQ4_NL_4_4 (removed)", "IQ4_NL_4_8 (removed)",
            "IQ4_NL_8_8 (removed)", "MXFP4"};
    private static final int CHUNK = 16 * 1024;
    private static final ValueLayout.OfFloat NATIVE_FLOAT = ValueLayout.JAVA_FLOAT_UNALIGNED;

    private final int id;
    private final int blockSize;
    private final int bytesPerBlock;
    private final BlockCodec codec;

    GgufType(int id, int blockSize, int bytesPerBlock, BlockCodec codec) {
        this.id = id;
        this.blockSize = blockSize;
        this.bytesPerBlock = bytesPerBlock;
        this.codec = codec;
    }

    public int id() {
        return id;
    }

    /** Values per block (1 for the float types). */
    public int blockSize() {
        return blockSize;
    }

    public int bytesPerBlock() {
        return bytesPerBlock;
    }

    public boolean isBlockQuantized() {
        return codec != null;
    }

    /** Bytes of {@code count} values (a whole number of blocks). */
    public long byteLength(long count) {
        return count / blockSize * bytesPerBlock;
    }

    public static Optional<GgufType> fromId(int id) {
        for (GgufType t : values()) {
            if (t.id == id) return Optional.of(t);
        }
        return Optional.empty();
    }

    /** ggml's name for a type id we do not read, or null when the id is not one ggml defines. */
    static String unsupportedName(int id) {
        return id >= 0 && id < OTHER_NAMES.length ? OTHER_NAMES[id] : null;
    }

    /** The safetensors dtype of a float type; empty for block formats. */
    public Optional<DType> floatType() {
        return switch (this) {
            case F32 -> Optional.of(DType.F32);
            case F16 -> Optional.of(DType.F16);
            case BF16 -> Optional.of(DType.BF16);
            default -> Optional.empty();
        };
    }

    /**
     * Dequantizes {@code count} values (a whole number of blocks) from the stored bytes at the start of
     * {@code source} into native-order fp32 at the start of {@code target}.
     */
    public void dequantize(MemorySegment source, MemorySegment target, long count) {
        Optional<DType> plain = floatType();
        if (plain.isPresent()) {
            plain.get().toFloat32(source, target, count);
            return;
        }
        int blocksPerChunk = Math.max(1, CHUNK / blockSize);
        float[] out = new float[blocksPerChunk * blockSize];
        long blocks = count / blockSize;
        for (long done = 0; done < blocks; ) {
            int n = (int) Math.min(blocksPerChunk, blocks - done);
            for (int b = 0; b < n; b++) codec.decode(source, (done + b) * bytesPerBlock, out, b * blockSize);
            MemorySegment.copy(out, 0, target, NATIVE_FLOAT, done * blockSize * Float.BYTES, n * blockSize);
            done += n;
        }
    }

    /** Dequantizes into a new array (tests, small tensors). */
    public float[] dequantize(MemorySegment source, int count) {
        MemorySegment target = MemorySegment.ofArray(new float[count]);
        dequantize(source, target, count);
        return target.toArray(ValueLayout.JAVA_FLOAT);
    }

    /**
     * Encodes {@code in[from .. from + count)} (a whole number of blocks) in this type, appended to {@code out}
     * (which must be little-endian and have room).
     */
    public void quantize(float[] in, int from, int count, ByteBuffer out) {
        if (count % blockSize != 0) throw new IllegalArgumentException(count + " values are not whole " + this + " blocks");
        switch (this) {
            case F32 -> { for (int i = 0; i < count; i++) out.putFloat(in[from + i]); }
            case F16 -> { for (int i = 0; i < count; i++) out.putShort(Float.floatToFloat16(in[from + i])); }
            case BF16 -> { for (int i = 0; i < count; i++) out.putShort(toBfloat16(in[from + i])); }
            default -> { for (int i = 0; i < count; i += blockSize) codec.encode(in, from + i, out); }
        }
    }

    /** Round to nearest even on the 16 dropped bits; NaN stays a quiet NaN. */
    private static short toBfloat16(float value) {
        if (Float.isNaN(value)) return (short) 0x7FC0;
        int bits = Float.floatToRawIntBits(value);
        return (short) ((bits + 0x7FFF + ((bits >>> 16) & 1)) >>> 16);
    }
}
