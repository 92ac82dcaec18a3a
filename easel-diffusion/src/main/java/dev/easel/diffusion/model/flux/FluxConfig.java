package dev.easel.diffusion.model.flux;

import com.fasterxml.jackson.databind.JsonNode;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.function.Function;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The shape of a FLUX.1 transformer (diffusers' FluxTransformer2DModel).
 *
 * @param heads          attention heads; the width is {@code heads * headDim}
 * @param headDim        channels per head (128 in every FLUX.1 model)
 * @param doubleBlocks   joint text/image blocks ({@code num_layers})
 * @param singleBlocks   blocks over the concatenated sequence ({@code num_single_layers})
 * @param inChannels     packed latent channels per token (16 latent channels x 2 x 2 = 64); also the output width
 * @param contextDim     width of the text encoder states ({@code joint_attention_dim}; 4096 for T5-XXL)
 * @param pooledDim      width of the pooled text embedding ({@code pooled_projection_dim}; 768 for CLIP-L)
 * @param guidanceEmbeds whether the guidance scale is a model input (FLUX.1-dev) rather than absent (schnell)
 * @param axesDims       rotary embedding channels per position axis (index, row, column); they add up to headDim
 * @param theta          rotary embedding base
 * @param mlpRatio       feed-forward width over model width
 */
public record FluxConfig(int heads, int headDim, int doubleBlocks, int singleBlocks, long inChannels,
                         long contextDim, long pooledDim, boolean guidanceEmbeds, List<Integer> axesDims,
                         double theta, int mlpRatio) {

    /** Channels of the sinusoidal projection of the timestep and the guidance scale. */
    public static final int TIME_PROJECTION_CHANNELS = 256;
    /** Every FLUX.1 model: 128 channels per head, rotary axes (16, 56, 56), base 10000, MLP 4x. */
    public static final int HEAD_DIM = 128;
    public static final List<Integer> AXES_DIMS = List.of(16, 56, 56);
    public static final double THETA = 10000;
    public static final int MLP_RATIO = 4;

    public FluxConfig {
        axesDims = List.copyOf(axesDims);
        int rope = axesDims.stream().mapToInt(Integer::intValue).sum();
        if (rope != headDim || axesDims.stream().anyMatch(d -> d <= 0 || d % 2 != 0)) {
            throw new IllegalArgumentException("rotary axes " + axesDims + " must be even and add up to the head size " + headDim);
        }
        if (heads <= 0 || doubleBlocks < 0 || singleBlocks < 0 || doubleBlocks + singleBlocks == 0) {
            throw new IllegalArgumentException("a FLUX transformer needs heads and blocks: " + heads + " heads, "
                    + doubleBlocks + " double and " + singleBlocks + " single blocks");
        }
    }

    /** Model width: heads x head size (3072 in FLUX.1). */
    public long hidden() {
        return (long) heads * headDim;
    }

    public long mlpHidden() {
        return hidden() * mlpRatio;
    }

    /** FLUX.1-schnell: 3072 wide (24 heads), 19 double and 38 single blocks, T5-XXL context, CLIP-L pooled, no guidance input. */
    public static FluxConfig schnell() {
        return new FluxConfig(24, HEAD_DIM, 19, 38, 64, 4096, 768, false, AXES_DIMS, THETA, MLP_RATIO);
    }

    /** FLUX.1-dev: schnell's shape plus the guidance embedding. */
    public static FluxConfig dev() {
        return new FluxConfig(24, HEAD_DIM, 19, 38, 64, 4096, 768, true, AXES_DIMS, THETA, MLP_RATIO);
    }

    /** From a diffusers transformer/config.json. */
    public static FluxConfig fromDiffusers(JsonNode c) {
        if (c.path("patch_size").asInt(1) != 1) {
            throw new IllegalArgumentException("FLUX transformer with patch_size " + c.get("patch_size") + " (only 1 is known)");
        }
        long in = c.path("in_channels").asLong(64);
        JsonNode out = c.path("out_channels");
        if (!out.isMissingNode() && !out.isNull() && out.asLong() != in) {
            throw new IllegalArgumentException("FLUX transformer with out_channels " + out + " != in_channels " + in);
        }
        List<Integer> axes = new ArrayList<>();
        JsonNode axesNode = c.path("axes_dims_rope");
        if (axesNode.isArray()) axesNode.forEach(n -> axes.add(n.asInt()));
        else axes.addAll(AXES_DIMS);
        return new FluxConfig(c.path("num_attention_heads").asInt(24), c.path("attention_head_dim").asInt(HEAD_DIM),
                c.path("num_layers").asInt(19), c.path("num_single_layers").asInt(38), in,
                c.path("joint_attention_dim").asLong(4096), c.path("pooled_projection_dim").asLong(768),
                c.path("guidance_embeds").asBoolean(false), axes, THETA, MLP_RATIO);
    }

    private static final Pattern DOUBLE = Pattern.compile("transformer_blocks\\.(\\d+)\\..+");
    private static final Pattern SINGLE = Pattern.compile("single_transformer_blocks\\.(\\d+)\\..+");
    static final String GUIDANCE_EMBEDDER = "time_text_embed.guidance_embedder.linear_1.weight";

    /**
     * From canonical (diffusers-named) weights, as a single file carries no config: widths from the embedders'
     * shapes, block counts from the highest {@code transformer_blocks.N} / {@code single_transformer_blocks.N},
     * guidance from the presence of the guidance embedder; head size 128 and the rotary axes by the FLUX.1 convention.
     *
     * @throws IllegalArgumentException when the shapes do not make a FLUX transformer
     */
    public static FluxConfig infer(Set<String> names, Function<String, long[]> shape) {
        int doubles = 0;
        int singles = 0;
        for (String n : names) {
            Matcher m;
            if ((m = DOUBLE.matcher(n)).matches()) doubles = Math.max(doubles, Integer.parseInt(m.group(1)) + 1);
            if ((m = SINGLE.matcher(n)).matches()) singles = Math.max(singles, Integer.parseInt(m.group(1)) + 1);
        }
        long[] x = shape.apply("x_embedder.weight");
        long hidden = x[0];
        if (hidden % HEAD_DIM != 0) {
            throw new IllegalArgumentException("model width " + hidden + " is not a whole number of " + HEAD_DIM + "-channel heads");
        }
        long mlp = doubles > 0 ? shape.apply("transformer_blocks.0.ff.net.0.proj.weight")[0]
                : shape.apply("single_transformer_blocks.0.proj_mlp.weight")[0];
        if (mlp % hidden != 0) throw new IllegalArgumentException("MLP width " + mlp + " is not a multiple of the width " + hidden);
        return new FluxConfig(Math.toIntExact(hidden / HEAD_DIM), HEAD_DIM, doubles, singles, x[1],
                shape.apply("context_embedder.weight")[1], shape.apply("time_text_embed.text_embedder.linear_1.weight")[1],
                names.contains(GUIDANCE_EMBEDDER), AXES_DIMS, THETA, Math.toIntExact(mlp / hidden));
    }
}
