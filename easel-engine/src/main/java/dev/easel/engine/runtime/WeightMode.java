package dev.easel.engine.runtime;

import dev.easel.engine.quant.BlockFormat;

import java.util.Locale;
import java.util.Optional;

/**
 * How a model's big linear layers hold their weights: {@code fp32} (exact, as the file's values widened), or
 * block-quantized to {@code int8} / {@code int4} at load ({@link BlockFormat#INT8}, {@link BlockFormat#INT4}: blocks
 * of 32, run by MatMulNBits). Which layers count as big is each network's choice ({@link Linears}); embeddings,
 * norms, biases and convolutions stay fp32 in every mode.
 */
public enum WeightMode {
    FP32(null),
    INT8(BlockFormat.INT8),
    INT4(BlockFormat.INT4);

    private final BlockFormat format;

    WeightMode(BlockFormat format) {
        this.format = format;
    }

    /** The block format of the quantized layers; empty for fp32. */
    public Optional<BlockFormat> format() {
        return Optional.ofNullable(format);
    }

    public boolean quantized() {
        return format != null;
    }

    /** Bytes one weight value of a quantized layer takes: its integer share plus its block's fp32 scale share. */
    public double bytesPerValue() {
        return format == null ? Float.BYTES : (double) format.blobSize() / format.blockSize() + (double) Float.BYTES / format.blockSize();
    }

    /** The name users write: fp32, int8, int4. */
    public String label() {
        return name().toLowerCase(Locale.ROOT);
    }

    /** @throws IllegalArgumentException naming the accepted values */
    public static WeightMode parse(String text) {
        for (WeightMode m : values()) {
            if (m.label().equalsIgnoreCase(text.trim())) return m;
        }
        throw new IllegalArgumentException("weights must be fp32, int8 or int4, not '" + text + "'");
    }

    @Override
    public String toString() {
        return label();
    }
}
