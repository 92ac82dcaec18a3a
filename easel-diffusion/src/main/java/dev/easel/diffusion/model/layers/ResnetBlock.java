package dev.easel.diffusion.model.layers;

import dev.easel.engine.graph.GraphBuilder;
import dev.easel.engine.graph.Value;

/**
 * diffusers' ResnetBlock2D: GroupNorm, SiLU, 3x3 conv, (+ projected time embedding), GroupNorm, SiLU,
 * 3x3 conv, plus a 1x1-conv shortcut when the channel count changes.
 */
public final class ResnetBlock {
    private ResnetBlock() {
    }

    /**
     * @param timeEmbedding the (batch, timeChannels) embedding, or null for the VAE's resnets
     */
    public static Value emit(GraphBuilder g, String prefix, Value x, long in, long out,
                             Value timeEmbedding, long timeChannels, float epsilon) {
        Value h = g.silu(g.groupNorm(x, prefix + ".norm1", in, 32, epsilon));
        h = g.conv2d(h, prefix + ".conv1", in, out, 3, 1, 1);
        if (timeEmbedding != null) {
            Value t = g.linear(g.silu(timeEmbedding), prefix + ".time_emb_proj", timeChannels, out, true);
            h = g.add(h, g.op("Unsqueeze", java.util.List.of(t, g.constantLongs(2, 3))));
        }
        h = g.silu(g.groupNorm(h, prefix + ".norm2", out, 32, epsilon));
        h = g.conv2d(h, prefix + ".conv2", out, out, 3, 1, 1);
        Value shortcut = in == out ? x : g.conv2d(x, prefix + ".conv_shortcut", in, out, 1, 1, 0);
        return g.add(shortcut, h);
    }
}
