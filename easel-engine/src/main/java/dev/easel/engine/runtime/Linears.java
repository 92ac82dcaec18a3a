package dev.easel.engine.runtime;

import dev.easel.engine.graph.GraphBuilder;
import dev.easel.engine.graph.Value;
import dev.easel.engine.quant.BlockFormat;

import java.util.List;

/**
 * How a network emits its big linear layers (the ones a weight mode quantizes): as fp32 Gemms, as MatMulNBits
 * over block-quantized weights, or (w8a8) as integer GEMMs over channel-quantized weights and row-quantized
 * activations. A network routes through here only the layers the community's quantizers quantize
 * too; everything else it emits with {@link GraphBuilder#linear} and keeps fp32.
 *
 * <p>A layer whose in-features are not a multiple of the block size stays fp32 (a zero-padded last block would
 * work, but GGUF files never store one, so such layers are kept exact): only the tiny test models have them. w8a8
 * has no blocks and quantizes every such layer.
 *
 * @param mode          fp32, int8, int4 or w8a8
 * @param accuracyLevel MatMulNBits' accuracy_level: 4 = int8 activations and integer (VNNI) kernels, 0 = fp32 compute
 *                      (w8a8 always computes in int8)
 */
public record Linears(WeightMode mode, int accuracyLevel) {
    public static final Linears FP32 = new Linears(WeightMode.FP32, 0);

    public Linears {
        if (accuracyLevel < 0 || accuracyLevel > 4) {
            throw new IllegalArgumentException("accuracy level must be 0 to 4, got " + accuracyLevel);
        }
    }

    /** Whether a layer with {@code in} in-features is quantized in this mode. */
    public boolean quantizes(long in) {
        if (mode == WeightMode.W8A8) return true;
        return mode.format().map(f -> in % f.blockSize() == 0).orElse(false);
    }

    /** As {@link GraphBuilder#linear}, quantized when the mode says so. */
    public Value linear(GraphBuilder g, Value x, String prefix, long in, long out, boolean bias) {
        if (!quantizes(in)) return g.linear(x, prefix, in, out, bias);
        if (mode == WeightMode.W8A8) return g.channelQuantizedLinear(g.quantizeRows(x, in), prefix, in, out, bias);
        BlockFormat format = mode.format().orElseThrow();
        return g.quantizedLinear(x, prefix, in, out, bias, format, accuracyLevel);
    }

    /**
     * As {@link GraphBuilder#fusedLinear} (bias-free layers of one input), through {@link #stackedLinear}: one Gemm over
     * the concatenated fp32 weights, one MatMulNBits over the stacked blocks, or w8a8 GEMMs over one quantized input.
     */
    public Value[] fusedLinear(GraphBuilder g, Value x, long in, long out, String... prefixes) {
        if (!quantizes(in)) return g.fusedLinear(x, in, out, prefixes);
        long[] outs = new long[prefixes.length];
        java.util.Arrays.fill(outs, out);
        return stackedLinear(g, x, List.of(prefixes), in, outs, false);
    }

    /**
     * Linear layers of one input: fp32 and block-quantized as one product over their stacked weights, split again
     * ({@link GraphBuilder#stackedLinear}, {@link GraphBuilder#stackedQuantizedLinear}: one wide GEMM, and in int8 and
     * int4 one quantization of the activations instead of one per layer); w8a8 as one quantization of the input and a
     * GEMM per layer. Each weight is still read under its own name.
     */
    public Value[] stackedLinear(GraphBuilder g, Value x, List<String> prefixes, long in, long[] outs, boolean bias) {
        if (!quantizes(in)) return g.stackedLinear(x, prefixes, in, outs, bias);
        if (mode == WeightMode.W8A8) {
            // One quantization of the input for all the layers; a GEMM each (int8 weights never need stacking to be wide).
            GraphBuilder.QuantizedRows rows = g.quantizeRows(x, in);
            Value[] ys = new Value[prefixes.size()];
            for (int i = 0; i < ys.length; i++) ys[i] = g.channelQuantizedLinear(rows, prefixes.get(i), in, outs[i], bias);
            return ys;
        }
        return g.stackedQuantizedLinear(x, prefixes, in, outs, bias, mode.format().orElseThrow(), accuracyLevel);
    }
}
