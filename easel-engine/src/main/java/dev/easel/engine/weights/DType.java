package dev.easel.engine.weights;

import java.lang.foreign.MemorySegment;
import java.util.Optional;

/**
 * Element types of safetensors files, with their on-disk names and sizes.
 * Float types convert to fp32 in bulk ({@link #toFloat32}); on CPU every weight is fp32 because
 * ONNX Runtime lacks bf16 kernels there and runs fp16 MatMul ~7x slower than fp32.
 */
public enum DType {
    F64("F64", 8, true),
    F32("F32", 4, true),
    F16("F16", 2, true),
    BF16("BF16", 2, true),
    /** fp8 "fn" variant: 4 exponent bits (bias 7), 3 mantissa bits, no infinities, S.1111.111 is NaN. */
    F8_E4M3("F8_E4M3", 1, true),
    /** fp8 IEEE-like: 5 exponent bits (bias 15), 2 mantissa bits, with infinities and NaNs. */
    F8_E5M2("F8_E5M2", 1, true),
    I64("I64", 8, false),
    I32("I32", 4, false),
    I16("I16", 2, false),
    I8("I8", 1, false),
    U8("U8", 1, false),
    BOOL("BOOL", 1, false);

    private final String safetensorsName;
    private final int byteSize;
    private final boolean floatingPoint;

    DType(String safetensorsName, int byteSize, boolean floatingPoint) {
        this.safetensorsName = safetensorsName;
        this.byteSize = byteSize;
        this.floatingPoint = floatingPoint;
    }

    /** The dtype string used in safetensors headers, e.g. {@code "BF16"}. */
    public String safetensorsName() {
        return safetensorsName;
    }

    public int byteSize() {
        return byteSize;
    }

    public boolean isFloatingPoint() {
        return floatingPoint;
    }

    public static Optional<DType> fromSafetensorsName(String name) {
        for (DType t : values()) {
            if (t.safetensorsName.equals(name)) return Optional.of(t);
        }
        return Optional.empty();
    }

    /**
     * Converts {@code count} little-endian elements of this type at the start of {@code source}
     * into native-order fp32 at the start of {@code target}.
     *
     * @throws UnsupportedOperationException for integer and boolean types, which are not weights
     */
    public void toFloat32(MemorySegment source, MemorySegment target, long count) {
        if (!floatingPoint) {
            throw new UnsupportedOperationException(this + " is not a floating-point type");
        }
        Float32Conversion.convert(this, source, target, count);
    }
}
