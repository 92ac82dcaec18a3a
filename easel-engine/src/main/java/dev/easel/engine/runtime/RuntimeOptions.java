package dev.easel.engine.runtime;

import java.nio.file.Path;

/**
 * How sessions run.
 *
 * @param threads        intra-op threads; the machine's cores by default
 * @param prepackWeights let ONNX Runtime repack GEMM weights into its own layout: faster, but those
 *                       weights are then held twice
 * @param profileFolder  where ONNX Runtime writes a per-node profile (for FLOP counting), or null
 */
public record RuntimeOptions(int threads, boolean prepackWeights, Path profileFolder) {
    public static RuntimeOptions defaults() {
        return new RuntimeOptions(Runtime.getRuntime().availableProcessors(), true, null);
    }

    public RuntimeOptions withThreads(int n) {
        return new RuntimeOptions(n, prepackWeights, profileFolder);
    }

    public RuntimeOptions withPrepack(boolean on) {
        return new RuntimeOptions(threads, on, profileFolder);
    }

    public RuntimeOptions withProfiling(Path folder) {
        return new RuntimeOptions(threads, prepackWeights, folder);
    }
}
