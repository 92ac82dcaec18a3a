package dev.easel.diffusion.bench;

import dev.easel.diffusion.model.flux.FluxConfig;
import dev.easel.diffusion.model.t5.T5Config;

/**
 * FLOPs of FLUX.1's networks counted from their shapes (2 per multiply-add), for throughput figures where ONNX
 * Runtime's profile cannot count them: its profiler does not report FLOPs for the quantized MatMulNBits kernels, and a
 * second, profiled session of a full-size transformer would not fit beside the first. Matrix products only
 * (linears and attention); norms, activations and rotary embeddings add well under 1%.
 */
public final class FluxFlops {
    private FluxFlops() {
    }

    /**
     * One transformer call on {@code imageTokens} packed latent tokens and {@code textTokens} T5 tokens (batch 1):
     * 1024x1024 with 256 text tokens is 4096 + 256 tokens, about 69 TFLOP for FLUX.1.
     */
    public static double transformerStep(FluxConfig c, long imageTokens, long textTokens) {
        double h = c.hidden();
        double mlp = c.mlpHidden();
        double n = imageTokens + textTokens;
        // per token and stream: qkv 3h*h, output projection h*h, MLP 2*h*mlp multiply-adds
        double doubleBlock = 2 * n * (3 * h * h + h * h + 2 * h * mlp) + attention(n, h);
        // linear1: h -> 3h + mlp; linear2: h + mlp -> h
        double singleBlock = 2 * n * (h * (3 * h + mlp) + (h + mlp) * h) + attention(n, h);
        double modulation = 2 * h * (6 * h * 2 * c.doubleBlocks() + 3 * h * c.singleBlocks() + 2 * h);
        double embeddings = 2 * (imageTokens * c.inChannels() * h + textTokens * c.contextDim() * h + imageTokens * h * c.inChannels());
        return c.doubleBlocks() * doubleBlock + c.singleBlocks() * singleBlock + modulation + embeddings;
    }

    /** One T5 encoder call on {@code tokens} tokens: about 2.4 TFLOP for T5-XXL on 256. */
    public static double t5(T5Config c, long tokens) {
        double inner = c.innerDim();
        double linears = 2.0 * tokens * (4 * c.dModel() * inner + 3 * c.dModel() * c.dFf());
        double scores = 4.0 * tokens * tokens * inner;
        return c.layers() * (linears + scores);
    }

    /** QK^T and the weighted sum of V over {@code n} tokens, {@code width} channels in all heads. */
    private static double attention(double n, double width) {
        return 4 * n * n * width;
    }
}
