package dev.easel.engine.runtime;

import dev.easel.engine.quant.BlockFormat;

import java.util.Locale;
import java.util.Optional;

/**
 * How a model's big linear layers hold their weights: {@code fp32} (exact, as the file's values widened);
 * block-quantized to {@code int8} / {@code int4} at load ({@link BlockFormat#INT8}, {@link BlockFormat#INT4}: blocks
 * of 32, run by MatMulNBits); or {@code w8a8}: int8 with one scale per output channel, the activations quantized to
 * int8 per row as they come, run by ONNX Runtime's integer GEMM (several times the fp32 rate on CPUs with VNNI; less
 * exact than int8's blocks of 32). Which layers count as big is each network's choice ({@link Linears}); embeddings,
 * norms, biases and convolutions stay fp32 in every mode.
 */
public enum WeightMode {
    FP32(null),
    INT8(BlockFormat.INT8),
    INT4(BlockFormat.INT4),
    W8A8(null);

    private final BlockFormat format;

    WeightMode(BlockFormat format) {
        this.format = format;
    }

    /** The block format of the quantized layers; empty for fp32 and w8a8 (one scale per output channel). */
    public Optional<BlockFormat> format() {
        return Optional.ofNullable(format);
    }

    public boolean quantized() {
        return this != FP32;
    }

    /**
     * Bytes one weight value of a quantized layer takes: its integer share plus its block's fp32 scale share (w8a8:
     * one byte, its row's scale being a share too small to count).
     */
    public double bytesPerValue() {
        if (this == W8A8) return 1;
        return format == null ? Float.BYTES : (double) format.blobSize() / format.blockSize() + (double) Float.BYTES / format.blockSize();
    }

    /** The name users write: fp32, int8, int4, w8a8. */
    public String label() {
        return name().toLowerCase(Locale.ROOT);
    }

    /** @throws IllegalArgumentException naming the accepted values */
    public static WeightMode parse(String text) {
        for (WeightMode m : values()) {
            if (m.label().equalsIgnoreCase(text.trim())) return m;
        }
        throw new IllegalArgumentException("weights must be fp32, int8, int4 or w8a8, not '" + text + "'");
    }

    @Override
    public String toString() {
        return label();
    }
}
