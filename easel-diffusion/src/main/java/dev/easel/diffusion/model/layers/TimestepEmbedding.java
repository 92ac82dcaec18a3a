package dev.easel.diffusion.model.layers;

import dev.easel.engine.graph.GraphBuilder;
import dev.easel.engine.graph.Value;

import java.util.List;

/** Sinusoidal timestep features (diffusers' Timesteps / get_timestep_embedding) and the MLP after them. */
public final class TimestepEmbedding {
    private TimestepEmbedding() {
    }

    /**
     * Features of a (batch) or (batch, n) float tensor: for each value, [cos, sin] (flipSinToCos) or
     * [sin, cos] of value * exp(-ln(10000) * i / (half - shift)), i < half; (batch, n) input gives
     * (batch, n * channels). Frequencies are computed in float32 as torch does.
     */
    public static Value sinusoidal(GraphBuilder g, Value t, int channels, boolean flipSinToCos, float shift) {
        int half = channels / 2;
        float[] frequencies = new float[half];
        float logPeriod = (float) -Math.log(10000);
        for (int i = 0; i < half; i++) {
            frequencies[i] = (float) Math.exp(logPeriod * i / (half - shift));
        }
        Value args = g.mul(g.op("Unsqueeze", List.of(t, g.constantLongs(-1))), g.constant(frequencies));
        Value sin = g.sin(args);
        Value cos = g.cos(args);
        Value features = flipSinToCos ? g.concat(-1, cos, sin) : g.concat(-1, sin, cos);
        return g.reshape(features, 0, -1);
    }

    /** linear_1, SiLU, linear_2. */
    public static Value mlp(GraphBuilder g, String prefix, Value x, long in, long out) {
        Value h = g.silu(g.linear(x, prefix + ".linear_1", in, out, true));
        return g.linear(h, prefix + ".linear_2", out, out, true);
    }
}
