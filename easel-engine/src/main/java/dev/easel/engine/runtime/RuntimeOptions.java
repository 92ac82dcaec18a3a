package dev.easel.engine.runtime;

/**
 * How sessions run.
 *
 * @param threads     intra-op threads; the machine's cores by default
 * @param prepackWeights let ONNX Runtime repack GEMM/conv weights into its own layout: faster, but a
 *                    second copy of those weights in memory
 * @param cuda        run on CUDA device 0 (needs the onnxruntime_gpu artifact)
 */
public record RuntimeOptions(int threads, boolean prepackWeights, boolean cuda) {
    public static RuntimeOptions defaults() {
        return new RuntimeOptions(Runtime.getRuntime().availableProcessors(), true, false);
    }

    public RuntimeOptions withThreads(int n) {
        return new RuntimeOptions(n, prepackWeights, cuda);
    }

    public RuntimeOptions withPrepack(boolean on) {
        return new RuntimeOptions(threads, on, cuda);
    }
}
