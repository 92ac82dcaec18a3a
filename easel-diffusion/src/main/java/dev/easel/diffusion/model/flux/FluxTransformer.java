package dev.easel.diffusion.model.flux;

import dev.easel.diffusion.model.layers.TimestepEmbedding;
import dev.easel.engine.graph.GraphBuilder;
import dev.easel.engine.graph.Value;
import dev.easel.engine.runtime.Linears;

import java.util.Arrays;
import java.util.List;

/**
 * The FLUX.1 transformer (diffusers' FluxTransformer2DModel) as an ONNX graph, over diffusers' parameter names.
 *
 * <p>Inputs: {@code hidden_states} (B, image tokens, 64) packed latents, {@code encoder_hidden_states}
 * (B, text tokens, context), {@code pooled_projections} (B, pooled), {@code timestep} (B) = sigma, {@code guidance}
 * (B, FLUX.1-dev only) = guidance scale, and the rotary tables {@code rope_cos}, {@code rope_sin} (text + image
 * tokens, 128) of {@link FluxRope}. Output: {@code sample} (B, image tokens, 64), the predicted velocity.
 *
 * <p>Timestep and guidance are multiplied by 1000, projected onto 256 sinusoids and passed through their MLPs, then
 * the pooled text MLP's output is added: the conditioning vector that modulates every block (AdaLN: LayerNorm without
 * affine, then {@code * (1 + scale) + shift}, and gated residuals). Double blocks keep text and image tokens apart
 * except in their joint attention over [text; image]; single blocks run attention and MLP in parallel over the
 * concatenated sequence. Queries and keys are RMS-normalised per head and rotated by position.
 */
public final class FluxTransformer {
    private static final float NORM_EPS = 1e-6f;
    private static final float TIME_SCALE = 1000f;

    private final GraphBuilder g;
    private final FluxConfig c;
    private final long hidden;
    /** LayerNormalization's scale input, all ones: FLUX's norms have no affine parameters. */
    private final Value ones;
    /** How the blocks' linears are emitted; the embedders and the final layer stay fp32 in every weight mode. */
    private final Linears linears;
    private Value ropeCos;
    private Value ropeSin;
    /** RotaryEmbedding's position_ids of shape (1): token t of a sequence takes row t of the caches. */
    private Value firstPosition;

    private FluxTransformer(FluxConfig c, Linears linears) {
        this.g = new GraphBuilder("flux_transformer");
        this.c = c;
        this.linears = linears;
        this.hidden = c.hidden();
        float[] one = new float[Math.toIntExact(hidden)];
        Arrays.fill(one, 1f);
        this.ones = g.constant(one);
    }

    public static GraphBuilder graph(FluxConfig config) {
        return graph(config, Linears.FP32);
    }

    /**
     * With the double and single blocks' linears (modulations, attention, MLPs) emitted as {@code linears} says;
     * {@code x_embedder}, {@code context_embedder}, the time/guidance/text embedders and {@code norm_out}/{@code proj_out}
     * stay fp32, as the community's quantized files keep them (BFL's img_in, txt_in, time_in, guidance_in, vector_in,
     * final_layer).
     */
    public static GraphBuilder graph(FluxConfig config, Linears linears) {
        FluxTransformer t = new FluxTransformer(config, linears);
        t.emit();
        return t.g;
    }

    private void emit() {
        Value latents = g.floatInput("hidden_states", "batch", "image_tokens", c.inChannels());
        Value context = g.floatInput("encoder_hidden_states", "batch", "text_tokens", c.contextDim());
        Value pooled = g.floatInput("pooled_projections", "batch", c.pooledDim());
        Value timestep = g.floatInput("timestep", "batch");
        Value guidance = c.guidanceEmbeds() ? g.floatInput("guidance", "batch") : null;
        // RotaryEmbedding's caches (tokens, headDim / 2): one cos and one sin per channel pair, the even columns of
        // rope_cos and the odd (positive) ones of rope_sin
        ropeCos = everyOtherColumn(g.floatInput("rope_cos", "tokens", c.headDim()), 0);
        ropeSin = everyOtherColumn(g.floatInput("rope_sin", "tokens", c.headDim()), 1);
        firstPosition = g.constantLongs(0);

        Value conditioning = conditioning(timestep, guidance, pooled);
        // every modulation reads SiLU(conditioning), (B, 1, hidden) so that its chunks broadcast over tokens
        Value act = unsqueeze(g.silu(conditioning), 1);

        Value img = g.linear(latents, "x_embedder", c.inChannels(), hidden, true);
        Value txt = g.linear(context, "context_embedder", c.contextDim(), hidden, true);
        Value textTokens = g.op("Shape", List.of(txt), "start", 1L, "end", 2L);
        for (int i = 0; i < c.doubleBlocks(); i++) {
            Value[] out = doubleBlock("transformer_blocks." + i, img, txt, act, textTokens);
            img = out[0];
            txt = out[1];
        }
        Value x = g.concat(1, txt, img);
        for (int i = 0; i < c.singleBlocks(); i++) {
            x = singleBlock("single_transformer_blocks." + i, x, act);
        }
        img = tokensFrom(x, textTokens);

        // AdaLayerNormContinuous: (scale, shift) in this order
        Value[] mod = g.split(g.linear(act, "norm_out.linear", hidden, 2 * hidden, true), -1, 2);
        img = modulate(img, mod[1], mod[0]);
        g.output(g.linear(img, "proj_out", hidden, c.inChannels(), true), "sample");
    }

    /** Timestep (+ guidance) sinusoid MLPs plus the pooled-text MLP, added in diffusers' order. */
    private Value conditioning(Value timestep, Value guidance, Value pooled) {
        Value emb = TimestepEmbedding.mlp(g, "time_text_embed.timestep_embedder", timeProjection(timestep),
                FluxConfig.TIME_PROJECTION_CHANNELS, hidden);
        if (guidance != null) {
            emb = g.add(emb, TimestepEmbedding.mlp(g, "time_text_embed.guidance_embedder", timeProjection(guidance),
                    FluxConfig.TIME_PROJECTION_CHANNELS, hidden));
        }
        return g.add(emb, TimestepEmbedding.mlp(g, "time_text_embed.text_embedder", pooled, c.pooledDim(), hidden));
    }

    /** value * 1000 in float32, then [cos, sin] of 128 frequencies (flip_sin_to_cos, no frequency shift). */
    private Value timeProjection(Value value) {
        return TimestepEmbedding.sinusoidal(g, g.mul(value, g.scalar(TIME_SCALE)), FluxConfig.TIME_PROJECTION_CHANNELS, true, 0f);
    }

    /** FluxTransformerBlock: returns {image, text}. */
    private Value[] doubleBlock(String p, Value img, Value txt, Value act, Value textTokens) {
        // AdaLayerNormZero: shift, scale, gate for attention, then for the MLP
        Value[] im = g.split(blockLinear(act, p + ".norm1.linear", hidden, 6 * hidden, true), -1, 6);
        Value[] tm = g.split(blockLinear(act, p + ".norm1_context.linear", hidden, 6 * hidden, true), -1, 6);
        Value imgNormed = modulate(img, im[0], im[1]);
        Value txtNormed = modulate(txt, tm[0], tm[1]);

        String a = p + ".attn";
        // q, k, v of each stream as one product over their stacked weights (BFL's qkv, as stored)
        Value[] txtQkv = stacked(txtNormed, List.of(a + ".add_q_proj", a + ".add_k_proj", a + ".add_v_proj"), hidden, hidden, hidden);
        Value[] imgQkv = stacked(imgNormed, List.of(a + ".to_q", a + ".to_k", a + ".to_v"), hidden, hidden, hidden);
        Value q = g.concat(1, headNormed(txtQkv[0], a + ".norm_added_q"), headNormed(imgQkv[0], a + ".norm_q"));
        Value k = g.concat(1, headNormed(txtQkv[1], a + ".norm_added_k"), headNormed(imgQkv[1], a + ".norm_k"));
        Value v = g.concat(1, txtQkv[2], imgQkv[2]);
        Value attended = attention(q, k, v);
        Value imgAttn = blockLinear(tokensFrom(attended, textTokens), a + ".to_out.0", hidden, hidden, true);
        Value txtAttn = blockLinear(tokensBefore(attended, textTokens), a + ".to_add_out", hidden, hidden, true);

        img = g.add(img, g.mul(im[2], imgAttn));
        img = g.add(img, g.mul(im[5], feedForward(p + ".ff", modulate(img, im[3], im[4]))));
        txt = g.add(txt, g.mul(tm[2], txtAttn));
        txt = g.add(txt, g.mul(tm[5], feedForward(p + ".ff_context", modulate(txt, tm[3], tm[4]))));
        return new Value[]{img, txt};
    }

    /** FluxSingleTransformerBlock: attention and MLP in parallel from one modulated norm, one output projection. */
    private Value singleBlock(String p, Value x, Value act) {
        Value[] mod = g.split(blockLinear(act, p + ".norm.linear", hidden, 3 * hidden, true), -1, 3);
        Value normed = modulate(x, mod[0], mod[1]);
        String a = p + ".attn";
        // q, k, v and the MLP input as one product over their stacked weights (BFL's linear1, as stored)
        Value[] parts = stacked(normed, List.of(a + ".to_q", a + ".to_k", a + ".to_v", p + ".proj_mlp"), hidden, hidden, hidden, c.mlpHidden());
        Value mlp = g.gelu(parts[3], true);
        Value q = headNormed(parts[0], a + ".norm_q");
        Value k = headNormed(parts[1], a + ".norm_k");
        Value v = parts[2];
        Value joined = g.concat(-1, attention(q, k, v), mlp);
        return g.add(x, g.mul(mod[2], blockLinear(joined, p + ".proj_out", hidden + c.mlpHidden(), hidden, true)));
    }

    /** LayerNorm without affine parameters, then {@code * (1 + scale) + shift}. */
    private Value modulate(Value x, Value shift, Value scale) {
        Value normed = g.op("LayerNormalization", List.of(x, ones), "axis", -1L, "epsilon", NORM_EPS);
        return g.add(g.mul(normed, g.add(g.scalar(1f), scale)), shift);
    }

    /** (B, T, hidden) projections RMS-normalised per head (as (B, T, heads, headDim)), back as (B, T, hidden). */
    private Value headNormed(Value x, String norm) {
        Value perHead = g.rmsNormLastAxis(g.reshape(x, 0, 0, c.heads(), c.headDim()), norm + ".weight", c.headDim(), NORM_EPS);
        return g.reshape(perHead, 0, 0, hidden);
    }

    /** Rotates q and k (B, T, hidden) by position, attends, returns (B, T, hidden). */
    private Value attention(Value q, Value k, Value v) {
        return g.attention(rotate(q), rotate(k), v, c.heads());
    }

    /**
     * Each channel pair (x[2i], x[2i+1]) of every head rotated as a complex number by its token's angle:
     * (x[2i] cos - x[2i+1] sin, x[2i+1] cos + x[2i] sin), in one pass (com.microsoft.RotaryEmbedding, interleaved pairs).
     */
    private Value rotate(Value x) {
        return g.msOp("RotaryEmbedding", List.of(x, firstPosition, ropeCos, ropeSin), "interleaved", 1L, "num_heads", (long) c.heads());
    }

    /** Columns first, first + 2, ... of a (tokens, columns) table. */
    private Value everyOtherColumn(Value table, long first) {
        return g.op("Slice", List.of(table, g.constantLongs(first), g.constantLongs(TO_THE_END), g.constantLongs(1), g.constantLongs(2)));
    }

    private static final long TO_THE_END = Long.MAX_VALUE;

    /** Tokens [textTokens, end) of a (B, T, C) sequence: the image part of [text; image]. */
    private Value tokensFrom(Value x, Value textTokens) {
        return g.op("Slice", List.of(x, textTokens, g.constantLongs(TO_THE_END), g.constantLongs(1)));
    }

    /** Tokens [0, textTokens) of a (B, T, C) sequence: the text part. */
    private Value tokensBefore(Value x, Value textTokens) {
        return g.op("Slice", List.of(x, g.constantLongs(0), textTokens, g.constantLongs(1)));
    }

    /** FeedForward: Linear, GELU (tanh approximation), Linear. */
    private Value feedForward(String p, Value x) {
        Value h = g.gelu(blockLinear(x, p + ".net.0.proj", hidden, c.mlpHidden(), true), true);
        return blockLinear(h, p + ".net.2", c.mlpHidden(), hidden, true);
    }

    /** A linear layer of a block: quantized in the int8/int4 weight modes. */
    private Value blockLinear(Value x, String prefix, long in, long out, boolean bias) {
        return linears.linear(g, x, prefix, in, out, bias);
    }

    /** Linear layers (with biases) of one input, as one product over their stacked weights: quantized in the int8/int4 modes. */
    private Value[] stacked(Value x, List<String> prefixes, long... outs) {
        return linears.stackedLinear(g, x, prefixes, hidden, outs, true);
    }

    private Value unsqueeze(Value x, long axis) {
        return g.op("Unsqueeze", List.of(x, g.constantLongs(axis)));
    }
}
