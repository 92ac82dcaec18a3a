package dev.easel.engine.quant;

/**
 * How a linear layer's weight is block-quantized for ONNX Runtime's {@code com.microsoft.MatMulNBits}:
 * each row of the [out, in] weight is cut into blocks of {@code blockSize} values along {@code in}, and each
 * block holds unsigned {@code bits}-bit integers and one fp32 scale. With no zero-point input MatMulNBits
 * subtracts {@code 2^(bits-1)} (128 for 8 bits, 8 for 4 bits), so the formats here are symmetric:
 * {@code value = (q - 2^(bits-1)) * scale}.
 */
public record BlockFormat(int bits, int blockSize) {
    /** 8-bit integers in blocks of 32 (GGUF Q8_0's block). */
    public static final BlockFormat INT8 = new BlockFormat(8, 32);
    /** 4-bit integers in blocks of 32 (GGUF Q4_0's block). */
    public static final BlockFormat INT4 = new BlockFormat(4, 32);

    public BlockFormat {
        if (bits != 4 && bits != 8) throw new IllegalArgumentException("MatMulNBits blocks hold 4 or 8 bits, not " + bits);
        if (blockSize < 16 || Integer.bitCount(blockSize) != 1) {
            throw new IllegalArgumentException("block size must be a power of 2 and at least 16, not " + blockSize);
        }
    }

    /** The zero point MatMulNBits assumes when none is given. */
    public int zeroPoint() {
        return 1 << (bits - 1);
    }

    /** Bytes of one block's integers. */
    public int blobSize() {
        return blockSize * bits / 8;
    }

    /** Blocks per row of {@code columns} values (the last one zero-padded when it is short). */
    public long blocksPerRow(long columns) {
        return (columns + blockSize - 1) / blockSize;
    }
}
