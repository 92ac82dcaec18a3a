package dev.easel.engine.runtime;

import java.nio.file.Path;

/**
 * How sessions run.
 *
 * @param threads        intra-op threads; the machine's cores by default
 * @param prepackWeights let ONNX Runtime repack GEMM weights into its own layout: faster, but while a
 *                       session loads those weights are held twice. Null leaves the choice to the model
 *                       family ({@link #prepackOr}): small models repack, the largest ones do not, to fit
 *                       their memory budget. Block-quantized layers (MatMulNBits) run their quantized kernels
 *                       only on prepacked weights: without prepacking they dequantize the whole weight to fp32
 *                       on every call and run an fp32 GEMM.
 * @param profileFolder  where ONNX Runtime writes a per-node profile (for FLOP counting), or null
 * @param cache          where prepared (converted and optimized) models are kept between loads, or null for none
 */
public record RuntimeOptions(int threads, Boolean prepackWeights, Path profileFolder, PreparedModelCache cache) {
    public RuntimeOptions(int threads, Boolean prepackWeights, Path profileFolder) {
        this(threads, prepackWeights, profileFolder, null);
    }

    public static RuntimeOptions defaults() {
        return new RuntimeOptions(Runtime.getRuntime().availableProcessors(), null, null);
    }

    /** These options loading through {@code cache} (null: no cache). */
    public RuntimeOptions withCache(PreparedModelCache cache) {
        return new RuntimeOptions(threads, prepackWeights, profileFolder, cache);
    }

    public RuntimeOptions withThreads(int n) {
        return new RuntimeOptions(n, prepackWeights, profileFolder, cache);
    }

    public RuntimeOptions withPrepack(boolean on) {
        return new RuntimeOptions(threads, on, profileFolder, cache);
    }

    /** These options with the prepacking choice made: the caller's if it made one, else {@code familyDefault}. */
    public RuntimeOptions prepackOr(boolean familyDefault) {
        return prepackWeights != null ? this : withPrepack(familyDefault);
    }

    public RuntimeOptions withProfiling(Path folder) {
        return new RuntimeOptions(threads, prepackWeights, folder, cache);
    }
}
