package dev.easel.diffusion.model.unet;

import dev.easel.diffusion.model.layers.ResnetBlock;
import dev.easel.diffusion.model.layers.Resampling;
import dev.easel.diffusion.model.layers.SpatialTransformer;
import dev.easel.diffusion.model.layers.TimestepEmbedding;
import dev.easel.engine.graph.GraphBuilder;
import dev.easel.engine.runtime.Linears;
import dev.easel.engine.graph.Value;

import java.util.ArrayDeque;
import java.util.Deque;

/**
 * The denoising UNet of SD 1.x and SDXL (diffusers' UNet2DConditionModel) as an ONNX graph.
 * Inputs: {@code sample} (B, C, H, W), {@code timestep} (B), {@code encoder_hidden_states} (B, T, D),
 * and for SDXL {@code text_embeds} (B, P) and {@code time_ids} (B, 6). Output: {@code out_sample}.
 */
public final class UNet2DCondition {
    private static final float RESNET_EPS = 1e-5f;

    private UNet2DCondition() {
    }

    public static GraphBuilder graph(UNetConfig c) {
        return graph(c, Linears.FP32);
    }

    /** With the attention and feed-forward linears of every transformer emitted as {@code linears} says. */
    public static GraphBuilder graph(UNetConfig c, Linears linears) {
        GraphBuilder g = new GraphBuilder("unet");
        Value sample = g.floatInput("sample", "batch", c.inChannels(), "height", "width");
        Value timestep = g.floatInput("timestep", "batch");
        Value context = g.floatInput("encoder_hidden_states", "batch", "tokens", c.crossAttentionDim());

        Value emb = TimestepEmbedding.mlp(g, "time_embedding",
                TimestepEmbedding.sinusoidal(g, timestep, (int) c.channels()[0], true, 0f), c.channels()[0], c.timeChannels());
        if (c.hasAdditionEmbedding()) {
            Value textEmbeds = g.floatInput("text_embeds", "batch", c.additionInput() - 6L * c.additionTimeEmbed());
            Value timeIds = g.floatInput("time_ids", "batch", 6);
            Value timeFeatures = TimestepEmbedding.sinusoidal(g, timeIds, c.additionTimeEmbed(), true, 0f);
            Value added = TimestepEmbedding.mlp(g, "add_embedding", g.concat(-1, textEmbeds, timeFeatures),
                    c.additionInput(), c.timeChannels());
            emb = g.add(emb, added);
        }

        Value h = g.conv2d(sample, "conv_in", c.inChannels(), c.channels()[0], 3, 1, 1);
        Deque<Value> skips = new ArrayDeque<>();
        Deque<Long> skipChannels = new ArrayDeque<>();
        skips.push(h);
        skipChannels.push(c.channels()[0]);

        long in = c.channels()[0];
        for (int level = 0; level < c.levels(); level++) {
            long out = c.channels()[level];
            String block = "down_blocks." + level;
            for (int j = 0; j < c.layersPerBlock(); j++) {
                h = ResnetBlock.emit(g, block + ".resnets." + j, h, in, out, emb, c.timeChannels(), RESNET_EPS);
                in = out;
                if (c.crossAttention()[level]) {
                    h = SpatialTransformer.emit(g, linears, block + ".attentions." + j, h, out, c.heads()[level], c.depth()[level],
                            context, c.crossAttentionDim(), c.linearProjection());
                }
                skips.push(h);
                skipChannels.push(out);
            }
            if (level < c.levels() - 1) {
                h = Resampling.downsample(g, block + ".downsamplers.0", h, out);
                skips.push(h);
                skipChannels.push(out);
            }
        }

        int deepest = c.levels() - 1;
        h = ResnetBlock.emit(g, "mid_block.resnets.0", h, in, in, emb, c.timeChannels(), RESNET_EPS);
        h = SpatialTransformer.emit(g, linears, "mid_block.attentions.0", h, in, c.heads()[deepest], c.midDepth(),
                context, c.crossAttentionDim(), c.linearProjection());
        h = ResnetBlock.emit(g, "mid_block.resnets.1", h, in, in, emb, c.timeChannels(), RESNET_EPS);

        for (int up = 0; up < c.levels(); up++) {
            int level = c.levels() - 1 - up;
            long out = c.channels()[level];
            String block = "up_blocks." + up;
            for (int j = 0; j <= c.layersPerBlock(); j++) {
                long skip = skipChannels.pop();
                h = g.concat(1, h, skips.pop());
                h = ResnetBlock.emit(g, block + ".resnets." + j, h, in + skip, out, emb, c.timeChannels(), RESNET_EPS);
                in = out;
                if (c.crossAttention()[level]) {
                    h = SpatialTransformer.emit(g, linears, block + ".attentions." + j, h, out, c.heads()[level], c.depth()[level],
                            context, c.crossAttentionDim(), c.linearProjection());
                }
            }
            if (level > 0) {
                h = Resampling.upsampleTo(g, block + ".upsamplers.0", h, skips.peek(), out);
            }
        }

        h = g.silu(g.groupNorm(h, "conv_norm_out", in, 32, RESNET_EPS));
        g.output(g.conv2d(h, "conv_out", in, c.outChannels(), 3, 1, 1), "out_sample");
        return g;
    }
}
