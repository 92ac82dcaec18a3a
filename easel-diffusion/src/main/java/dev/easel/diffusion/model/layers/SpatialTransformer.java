package dev.easel.diffusion.model.layers;

import dev.easel.engine.graph.GraphBuilder;
import dev.easel.engine.graph.Value;
import dev.easel.engine.runtime.Linears;

/**
 * diffusers' Transformer2DModel as the SD UNets use it: GroupNorm, proj_in (1x1 conv in SD 1.x,
 * linear in SDXL), {@code depth} BasicTransformerBlocks (self-attention, cross-attention, GEGLU
 * feed-forward, each pre-LayerNorm with a residual), proj_out, residual.
 */
public final class SpatialTransformer {
    private SpatialTransformer() {
    }

    public static Value emit(GraphBuilder g, Linears linears, String prefix, Value x, long channels, int heads, int depth,
                             Value context, long contextChannels, boolean linearProjection) {
        Value normed = g.groupNorm(x, prefix + ".norm", channels, 32, 1e-6f);
        Value tokens;
        if (linearProjection) {
            tokens = linears.linear(g, toTokens(g, normed, channels), prefix + ".proj_in", channels, channels, true);
        } else {
            tokens = toTokens(g, g.conv2d(normed, prefix + ".proj_in", channels, channels, 1, 1, 0), channels);
        }
        for (int i = 0; i < depth; i++) {
            tokens = transformerBlock(g, linears, prefix + ".transformer_blocks." + i, tokens, channels, heads, context, contextChannels);
        }
        Value out;
        if (linearProjection) {
            out = fromTokens(g, linears.linear(g, tokens, prefix + ".proj_out", channels, channels, true), x);
        } else {
            out = g.conv2d(fromTokens(g, tokens, x), prefix + ".proj_out", channels, channels, 1, 1, 0);
        }
        return g.add(out, x);
    }

    private static Value transformerBlock(GraphBuilder g, Linears linears, String prefix, Value x, long channels, int heads,
                                          Value context, long contextChannels) {
        Value h = g.layerNorm(x, prefix + ".norm1", channels, 1e-5f);
        x = g.add(selfAttention(g, linears, prefix + ".attn1", h, channels, heads), x);
        h = g.layerNorm(x, prefix + ".norm2", channels, 1e-5f);
        x = g.add(attention(g, linears, prefix + ".attn2", h, context, channels, contextChannels, heads), x);
        h = g.layerNorm(x, prefix + ".norm3", channels, 1e-5f);
        return g.add(gegluFeedForward(g, linears, prefix + ".ff", h, channels), x);
    }

    /** Self-attention with q, k and v projected by one GEMM. */
    static Value selfAttention(GraphBuilder g, Linears linears, String prefix, Value x, long channels, int heads) {
        Value[] qkv = linears.fusedLinear(g, x, channels, channels, prefix + ".to_q", prefix + ".to_k", prefix + ".to_v");
        return linears.linear(g, g.attention(qkv[0], qkv[1], qkv[2], heads), prefix + ".to_out.0", channels, channels, true);
    }

    /** diffusers' Attention: bias-free q/k/v projections, fused multi-head attention, biased output projection. */
    static Value attention(GraphBuilder g, Linears linears, String prefix, Value x, Value context, long channels, long contextChannels, int heads) {
        Value q = linears.linear(g, x, prefix + ".to_q", channels, channels, false);
        Value k = linears.linear(g, context, prefix + ".to_k", contextChannels, channels, false);
        Value v = linears.linear(g, context, prefix + ".to_v", contextChannels, channels, false);
        return linears.linear(g, g.attention(q, k, v, heads), prefix + ".to_out.0", channels, channels, true);
    }

    /** GEGLU: project to 2 x 4C, value half times exact GELU of the gate half, project back. */
    private static Value gegluFeedForward(GraphBuilder g, Linears linears, String prefix, Value x, long channels) {
        long inner = channels * 4;
        Value projected = linears.linear(g, x, prefix + ".net.0.proj", channels, inner * 2, true);
        Value[] halves = g.split(projected, -1, 2);
        Value gated = g.mul(halves[0], g.gelu(halves[1], false));
        return linears.linear(g, gated, prefix + ".net.2", inner, channels, true);
    }

    /** (B, C, H, W) -> (B, H*W, C). */
    public static Value toTokens(GraphBuilder g, Value x, long channels) {
        return g.transpose(g.reshape(x, 0, channels, -1), 0, 2, 1);
    }

    /** (B, H*W, C) -> the shape of {@code like} (B, C, H, W). */
    public static Value fromTokens(GraphBuilder g, Value tokens, Value like) {
        return g.reshapeLike(g.transpose(tokens, 0, 2, 1), g.shape(like));
    }
}
