package dev.easel.engine.runtime;

import java.nio.file.Path;

/**
 * How sessions run.
 *
 * @param threads        intra-op threads; the machine's cores by default
 * @param prepackWeights let ONNX Runtime repack GEMM weights into its own layout: faster, but while a
 *                       session loads those weights are held twice. Null leaves the choice to the model
 *                       family ({@link #prepackOr}): small models repack, the largest ones do not, to fit
 *                       their memory budget. Quantized layers run their integer kernels on prepacked weights
 *                       (block-quantized MatMulNBits without prepacking dequantizes the whole weight to fp32 on
 *                       every call; the w8a8 GEMM packs it again on every call). So quantized weights always
 *                       prepack: asking for them with prepacking off is refused.
 * @param profileFolder  where ONNX Runtime writes a per-node profile (for FLOP counting), or null
 * @param weights        how the big linear layers hold their weights ({@link WeightMode}); null leaves the choice to
 *                       the model family ({@link #weightsOr}): fp32 where it fits
 * @param accuracyLevel  MatMulNBits' accuracy_level for the int8 and int4 layers (w8a8's always compute in int8):
 *                       4 (the default) computes with int8 activations on the integer (VNNI) kernels, 0 in fp32
 *                       over the dequantized weights
 * @param cache          where prepared (converted and optimized) models are kept between loads, or null for none
 * @param activationArena keep activation memory in ONNX Runtime's arena between runs (no allocation per run). Off,
 *                       each run's activations are allocated and freed with the run, so the memory goes back to the
 *                       system for the next stage: for the largest models, whose step activations (gigabytes) an
 *                       arena would otherwise hold beside the weights until the session closes. Null leaves the
 *                       choice to the model family ({@link #activationArenaOr}); on where nobody chooses.
 */
public record RuntimeOptions(int threads, Boolean prepackWeights, Path profileFolder, WeightMode weights, int accuracyLevel,
                             PreparedModelCache cache, Boolean activationArena) {
    /** int8 activations and integer kernels: the fast path on CPUs with VNNI. */
    public static final int DEFAULT_ACCURACY_LEVEL = 4;

    public RuntimeOptions {
        if (weights != null && weights.quantized() && Boolean.FALSE.equals(prepackWeights)) {
            throw new IllegalArgumentException(weights + " weights need prepacking: without it ONNX Runtime unpacks every "
                    + "quantized layer again on each call (int8 and int4: to fp32, slower than fp32 weights)");
        }
        if (weights == WeightMode.W8A8 && !CpuFeatures.integerDotProduct()) {
            throw new IllegalArgumentException("w8a8 weights need a CPU with integer dot-product instructions (x86: AVX-VNNI, "
                    + "AVX512-VNNI or AMX; ARM: any): without them ONNX Runtime's int8 GEMM can saturate; use int8 here");
        }
        new Linears(WeightMode.FP32, accuracyLevel); // checks the level's range
    }

    public static RuntimeOptions defaults() {
        return new RuntimeOptions(Runtime.getRuntime().availableProcessors(), null, null, null, DEFAULT_ACCURACY_LEVEL, null, null);
    }

    /** These options loading through {@code cache} (null: no cache). */
    public RuntimeOptions withCache(PreparedModelCache cache) {
        return new RuntimeOptions(threads, prepackWeights, profileFolder, weights, accuracyLevel, cache, activationArena);
    }

    /** These options with activation memory kept between runs ({@code true}) or freed after each. */
    public RuntimeOptions withActivationArena(boolean on) {
        return new RuntimeOptions(threads, prepackWeights, profileFolder, weights, accuracyLevel, cache, on);
    }

    /** These options with the arena choice made: the caller's if it made one, else {@code familyDefault}. */
    public RuntimeOptions activationArenaOr(boolean familyDefault) {
        return activationArena != null ? this : withActivationArena(familyDefault);
    }

    public RuntimeOptions withThreads(int n) {
        return new RuntimeOptions(n, prepackWeights, profileFolder, weights, accuracyLevel, cache, activationArena);
    }

    public RuntimeOptions withPrepack(boolean on) {
        return new RuntimeOptions(threads, on, profileFolder, weights, accuracyLevel, cache, activationArena);
    }

    /**
     * These options with the prepacking choice made: the caller's if it made one, else {@code familyDefault};
     * on whenever the weights are quantized (their kernels need it).
     */
    public RuntimeOptions prepackOr(boolean familyDefault) {
        if (prepackWeights != null) return this;
        return withPrepack(familyDefault || weights != null && weights.quantized());
    }

    public RuntimeOptions withProfiling(Path folder) {
        return new RuntimeOptions(threads, prepackWeights, folder, weights, accuracyLevel, cache, activationArena);
    }

    /** These options with the weight mode {@code mode} (null: the family's choice). */
    public RuntimeOptions withWeights(WeightMode mode) {
        return new RuntimeOptions(threads, prepackWeights, profileFolder, mode, accuracyLevel, cache, activationArena);
    }

    public RuntimeOptions withAccuracyLevel(int level) {
        return new RuntimeOptions(threads, prepackWeights, profileFolder, weights, level, cache, activationArena);
    }

    /** These options with the weight mode chosen: the caller's if it chose one, else {@code familyDefault}. */
    public RuntimeOptions weightsOr(WeightMode familyDefault) {
        return weights != null ? this : withWeights(familyDefault);
    }

    /** The weight mode, fp32 when none was chosen. */
    public WeightMode weightMode() {
        return weights == null ? WeightMode.FP32 : weights;
    }

    /** How networks emit their big linear layers under these options. */
    public Linears linears() {
        return weights == null || !weights.quantized() ? Linears.FP32 : new Linears(weights, accuracyLevel);
    }
}
