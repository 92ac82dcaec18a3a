package dev.easel.diffusion.model.unet;

import com.fasterxml.jackson.databind.JsonNode;

import java.util.Arrays;
import java.util.Set;
import java.util.function.Function;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The shape of a UNet2DConditionModel (SD 1.x and SDXL). Levels are listed from the highest resolution
 * down; the up path mirrors them.
 *
 * @param channels          block_out_channels
 * @param crossAttention    per level: whether its blocks carry transformers
 * @param heads             per level: attention heads (SD 1.x: 8 everywhere; SDXL: channels / 64)
 * @param depth             per level: transformer blocks in each transformer
 * @param midDepth          transformer blocks in the mid block
 * @param linearProjection  proj_in/proj_out as linear layers (SDXL) instead of 1x1 convs (SD 1.x)
 * @param additionTimeEmbed SDXL's per-value size of the time_ids embedding; 0 when there is none
 * @param additionInput     SDXL's add_embedding input width (text_embeds + 6 * additionTimeEmbed)
 */
public record UNetConfig(long inChannels, long outChannels, long[] channels, int layersPerBlock,
                         boolean[] crossAttention, int[] heads, int[] depth, int midDepth,
                         long crossAttentionDim, boolean linearProjection,
                         int additionTimeEmbed, long additionInput) {

    public int levels() {
        return channels.length;
    }

    public long timeChannels() {
        return channels[0] * 4;
    }

    public boolean hasAdditionEmbedding() {
        return additionTimeEmbed > 0;
    }

    /** From a diffusers unet/config.json. */
    public static UNetConfig fromDiffusers(JsonNode c) {
        long[] channels = longs(c.get("block_out_channels"));
        int levels = channels.length;
        boolean[] cross = new boolean[levels];
        for (int i = 0; i < levels; i++) cross[i] = c.get("down_block_types").get(i).asText().startsWith("CrossAttn");
        JsonNode headsNode = c.hasNonNull("num_attention_heads") ? c.get("num_attention_heads") : c.get("attention_head_dim");
        int[] heads = perLevel(headsNode, levels);
        int[] depth = perLevel(c.get("transformer_layers_per_block"), levels);
        boolean addition = "text_time".equals(c.path("addition_embed_type").asText(null));
        return new UNetConfig(c.get("in_channels").asLong(), c.get("out_channels").asLong(), channels,
                c.get("layers_per_block").asInt(), cross, heads, depth, depth[levels - 1],
                c.get("cross_attention_dim").asLong(), c.path("use_linear_projection").asBoolean(false),
                addition ? c.get("addition_time_embed_dim").asInt() : 0,
                addition ? c.get("projection_class_embeddings_input_dim").asLong() : 0);
    }

    private static final Pattern RESNET = Pattern.compile("down_blocks\\.(\\d+)\\.resnets\\.(\\d+)\\..+");
    private static final Pattern TRANSFORMER_BLOCK = Pattern.compile("(down_blocks\\.(\\d+)|mid_block)\\.attentions\\.\\d+\\.transformer_blocks\\.(\\d+)\\.");

    /**
     * Infers the configuration of a UNet without an added text/time embedding (SD 1.x, SD 2.x) from canonical
     * (diffusers-named) weights.
     *
     * @throws IllegalArgumentException for an SDXL-style UNet ({@code add_embedding}): use
     *                                  {@link #infer(Set, Function, long)} with the pooled text width
     */
    public static UNetConfig infer(Set<String> names, Function<String, long[]> shape) {
        return infer(names, shape, 0);
    }

    /**
     * Infers the configuration from canonical (diffusers-named) weights, as a single file carries no
     * config: levels and resnets from the key names, widths from shapes, transformer depth per level and in the
     * mid block by counting {@code transformer_blocks.N}, heads by the families' conventions (SD 1.x: 8 heads;
     * linear projections (SD 2.x, SDXL): 64 channels per head). Counts come from any tensor of a block, so that a
     * missing tensor is reported as missing instead of changing the model silently.
     *
     * <p>SDXL's {@code add_embedding} takes the pooled text embedding followed by the six time ids embedded
     * with {@code addition_time_embed_dim} channels each: its input width is {@code pooled + 6 * embed}. The
     * UNet alone cannot tell the two apart, so the pooled width comes from the text encoder that makes it
     * (CLIP-G's projection: 1280 in SDXL, giving 2816 = 1280 + 6 * 256).
     *
     * @param pooledTextWidth width of the pooled text embedding the UNet is given ({@code text_embeds}); 0 when
     *                        the pipeline has none
     * @throws IllegalArgumentException when the weights do not describe a UNet, or the add-embedding input does
     *                                  not equal the pooled width plus six equal time-id embeddings
     */
    public static UNetConfig infer(Set<String> names, Function<String, long[]> shape, long pooledTextWidth) {
        int levels = 0;
        int resnets = 0;
        for (String n : names) {
            Matcher m = RESNET.matcher(n);
            if (m.matches()) {
                levels = Math.max(levels, Integer.parseInt(m.group(1)) + 1);
                resnets = Math.max(resnets, Integer.parseInt(m.group(2)) + 1);
            }
        }
        if (levels == 0) throw new IllegalArgumentException("no UNet down blocks found (down_blocks.N.resnets.M.conv1.weight)");
        long[] channels = new long[levels];
        boolean[] cross = new boolean[levels];
        int[] depth = new int[levels];
        int midDepth = 0;
        for (int i = 0; i < levels; i++) {
            channels[i] = shape.apply("down_blocks." + i + ".resnets.0.conv1.weight")[0];
            String attentions = "down_blocks." + i + ".attentions.";
            cross[i] = names.stream().anyMatch(n -> n.startsWith(attentions));
        }
        for (String n : names) {
            Matcher m = TRANSFORMER_BLOCK.matcher(n);
            if (m.lookingAt()) {
                int block = Integer.parseInt(m.group(3)) + 1;
                if (m.group(2) == null) midDepth = Math.max(midDepth, block);
                else depth[Integer.parseInt(m.group(2))] = Math.max(depth[Integer.parseInt(m.group(2))], block);
            }
        }
        boolean linear = shape.apply("mid_block.attentions.0.proj_in.weight").length == 2;
        int[] heads = new int[levels];
        for (int i = 0; i < levels; i++) heads[i] = linear ? (int) Math.max(1, channels[i] / 64) : 8;
        String crossKey = "mid_block.attentions.0.transformer_blocks.0.attn2.to_k.weight";
        boolean addition = names.contains("add_embedding.linear_1.weight");
        long additionInput = addition ? shape.apply("add_embedding.linear_1.weight")[1] : 0;
        int additionTimeEmbed = addition ? additionTimeEmbed(additionInput, pooledTextWidth) : 0;
        return new UNetConfig(shape.apply("conv_in.weight")[1], shape.apply("conv_out.weight")[0], channels, resnets,
                cross, heads, depth, midDepth, shape.apply(crossKey)[1], linear, additionTimeEmbed, additionInput);
    }

    /** addition_time_embed_dim = (add-embedding input - pooled width) / 6, which must be a positive even whole number. */
    private static int additionTimeEmbed(long additionInput, long pooledTextWidth) {
        if (pooledTextWidth <= 0) {
            throw new IllegalArgumentException("the UNet has an added text/time embedding (add_embedding, input width "
                    + additionInput + "), which needs the pooled text embedding's width to size its time-id embedding");
        }
        long timeIds = additionInput - pooledTextWidth;
        if (timeIds <= 0 || timeIds % 6 != 0 || timeIds / 6 % 2 != 0) {
            throw new IllegalArgumentException("add_embedding takes " + additionInput + " inputs, which is not the pooled text width "
                    + pooledTextWidth + " plus 6 time ids of an even embedding width");
        }
        return Math.toIntExact(timeIds / 6);
    }

    private static int[] perLevel(JsonNode node, int levels) {
        int[] out = new int[levels];
        for (int i = 0; i < levels; i++) out[i] = node == null || node.isNull() ? 1 : node.isArray() ? node.get(i).asInt() : node.asInt();
        return out;
    }

    private static long[] longs(JsonNode array) {
        long[] out = new long[array.size()];
        for (int i = 0; i < out.length; i++) out[i] = array.get(i).asLong();
        return out;
    }

    @Override
    public String toString() {
        return "UNetConfig[channels=" + Arrays.toString(channels) + ", layersPerBlock=" + layersPerBlock
                + ", crossAttention=" + Arrays.toString(crossAttention) + ", heads=" + Arrays.toString(heads)
                + ", depth=" + Arrays.toString(depth) + ", midDepth=" + midDepth + ", crossDim=" + crossAttentionDim
                + ", linearProjection=" + linearProjection + ", additionTimeEmbed=" + additionTimeEmbed + "]";
    }
}
