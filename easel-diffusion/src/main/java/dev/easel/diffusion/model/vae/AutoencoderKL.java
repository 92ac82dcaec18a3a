package dev.easel.diffusion.model.vae;

import dev.easel.diffusion.model.layers.ResnetBlock;
import dev.easel.diffusion.model.layers.Resampling;
import dev.easel.diffusion.model.layers.SpatialTransformer;
import dev.easel.engine.graph.GraphBuilder;
import dev.easel.engine.graph.Value;

/**
 * The KL autoencoder's two halves as ONNX graphs.
 * Encoder: {@code image} (B, 3, H, W) in [-1, 1] -> {@code encoder_out} (mean and log-variance on
 * channels, before quant_conv) and {@code moments} (after quant_conv).
 * Decoder: {@code latent} (B, C, h, w), already un-scaled -> {@code decoder_input} (after
 * post_quant_conv) and {@code image} (B, 3, 8h, 8w), the raw decoder output.
 */
public final class AutoencoderKL {
    private static final float EPS = 1e-6f;

    private AutoencoderKL() {
    }

    public static GraphBuilder encoder(VaeConfig c) {
        GraphBuilder g = new GraphBuilder("vae_encoder");
        Value h = g.conv2d(g.floatInput("image", "batch", 3, "height", "width"), "encoder.conv_in", 3, c.channels()[0], 3, 1, 1);
        long in = c.channels()[0];
        for (int level = 0; level < c.levels(); level++) {
            long out = c.channels()[level];
            for (int j = 0; j < c.layersPerBlock(); j++) {
                h = ResnetBlock.emit(g, "encoder.down_blocks." + level + ".resnets." + j, h, in, out, null, 0, EPS);
                in = out;
            }
            if (level < c.levels() - 1) {
                h = Resampling.downsampleAsymmetric(g, "encoder.down_blocks." + level + ".downsamplers.0", h, out);
            }
        }
        h = midBlock(g, "encoder.mid_block", h, in);
        h = g.silu(g.groupNorm(h, "encoder.conv_norm_out", in, 32, EPS));
        Value moments = g.conv2d(h, "encoder.conv_out", in, 2 * c.latentChannels(), 3, 1, 1);
        g.output(moments, "encoder_out");
        if (c.quantConvs()) {
            moments = g.conv2d(moments, "quant_conv", 2 * c.latentChannels(), 2 * c.latentChannels(), 1, 1, 0);
        }
        g.output(moments, "moments");
        return g;
    }

    public static GraphBuilder decoder(VaeConfig c) {
        GraphBuilder g = new GraphBuilder("vae_decoder");
        Value z = g.floatInput("latent", "batch", c.latentChannels(), "height", "width");
        if (c.quantConvs()) z = g.conv2d(z, "post_quant_conv", c.latentChannels(), c.latentChannels(), 1, 1, 0);
        g.output(z, "decoder_input");
        long in = c.channels()[c.levels() - 1];
        Value h = g.conv2d(z, "decoder.conv_in", c.latentChannels(), in, 3, 1, 1);
        h = midBlock(g, "decoder.mid_block", h, in);
        for (int up = 0; up < c.levels(); up++) {
            long out = c.channels()[c.levels() - 1 - up];
            for (int j = 0; j <= c.layersPerBlock(); j++) {
                h = ResnetBlock.emit(g, "decoder.up_blocks." + up + ".resnets." + j, h, in, out, null, 0, EPS);
                in = out;
            }
            if (up < c.levels() - 1) h = Resampling.upsample(g, "decoder.up_blocks." + up + ".upsamplers.0", h, out);
        }
        h = g.silu(g.groupNorm(h, "decoder.conv_norm_out", in, 32, EPS));
        g.output(g.conv2d(h, "decoder.conv_out", in, 3, 3, 1, 1), "image");
        return g;
    }

    private static Value midBlock(GraphBuilder g, String prefix, Value x, long channels) {
        Value h = ResnetBlock.emit(g, prefix + ".resnets.0", x, channels, channels, null, 0, EPS);
        h = attention(g, prefix + ".attentions.0", h, channels);
        return ResnetBlock.emit(g, prefix + ".resnets.1", h, channels, channels, null, 0, EPS);
    }

    /** Single-head self-attention over all pixels, with a residual. */
    private static Value attention(GraphBuilder g, String prefix, Value x, long channels) {
        Value tokens = SpatialTransformer.toTokens(g, g.groupNorm(x, prefix + ".group_norm", channels, 32, EPS), channels);
        Value q = g.linear(tokens, prefix + ".to_q", channels, channels, true);
        Value k = g.linear(tokens, prefix + ".to_k", channels, channels, true);
        Value v = g.linear(tokens, prefix + ".to_v", channels, channels, true);
        Value attended = g.linear(g.attention(q, k, v, 1), prefix + ".to_out.0", channels, channels, true);
        return g.add(SpatialTransformer.fromTokens(g, attended, x), x);
    }
}
