package dev.easel.diffusion.model.clip;

import dev.easel.engine.graph.GraphBuilder;
import dev.easel.engine.graph.Value;

import java.util.List;

/**
 * CLIP's text transformer as an ONNX graph. Input {@code input_ids} (B, T) int64. Outputs:
 * {@code last_hidden_state} (after the final LayerNorm), {@code penultimate_hidden_state}
 * (hidden_states[-2]: the input of the last layer, no final LayerNorm; SDXL conditions on it),
 * {@code pooled} (final-LayerNorm state at the EOS token, the highest id) and, with a projection,
 * {@code text_embeds} = pooled projected.
 */
public final class ClipTextModel {
    private ClipTextModel() {
    }

    public static GraphBuilder graph(ClipTextConfig c) {
        GraphBuilder g = new GraphBuilder("clip_text");
        Value ids = g.longInput("input_ids", "batch", c.maxPositions());
        Value tokens = g.gather(g.weight("text_model.embeddings.token_embedding.weight", c.vocabSize(), c.hidden()), ids, 0);
        Value h = g.add(tokens, g.weight("text_model.embeddings.position_embedding.weight", c.maxPositions(), c.hidden()));
        Value causalMask = g.constantTensor(new long[]{1, 1, c.maxPositions(), c.maxPositions()}, causalMask((int) c.maxPositions()));

        Value penultimate = h;
        for (int i = 0; i < c.layers(); i++) {
            penultimate = h;
            h = encoderLayer(g, "text_model.encoder.layers." + i, h, c, causalMask);
        }
        Value last = g.layerNorm(h, "text_model.final_layer_norm", c.hidden(), 1e-5f);
        g.output(last, "last_hidden_state");
        g.output(penultimate, "penultimate_hidden_state");

        // The EOS token has the highest id, so its position is the arg-max of the ids.
        Value eos = g.op("ArgMax", List.of(ids), "axis", 1L, "keepdims", 1L);
        Value index = g.op("Expand", List.of(g.op("Unsqueeze", List.of(eos, g.constantLongs(2))),
                g.constantLongs(1, 1, c.hidden())));
        Value pooled = g.reshape(g.op("GatherElements", List.of(last, index), "axis", 1L), -1, c.hidden());
        g.output(pooled, "pooled");
        if (c.projectionDim() > 0) {
            g.output(g.linear(pooled, "text_projection", c.hidden(), c.projectionDim(), false), "text_embeds");
        }
        return g;
    }

    private static Value encoderLayer(GraphBuilder g, String prefix, Value x, ClipTextConfig c, Value causalMask) {
        Value h = g.layerNorm(x, prefix + ".layer_norm1", c.hidden(), 1e-5f);
        Value q = g.linear(h, prefix + ".self_attn.q_proj", c.hidden(), c.hidden(), true);
        Value k = g.linear(h, prefix + ".self_attn.k_proj", c.hidden(), c.hidden(), true);
        Value v = g.linear(h, prefix + ".self_attn.v_proj", c.hidden(), c.hidden(), true);
        Value attended = g.msOp("MultiHeadAttention", java.util.Arrays.asList(q, k, v, null, null, causalMask),
                "num_heads", (long) c.heads());
        x = g.add(g.linear(attended, prefix + ".self_attn.out_proj", c.hidden(), c.hidden(), true), x);
        h = g.layerNorm(x, prefix + ".layer_norm2", c.hidden(), 1e-5f);
        h = g.linear(h, prefix + ".mlp.fc1", c.hidden(), c.intermediate(), true);
        h = c.quickGelu() ? g.quickGelu(h) : g.gelu(h, false);
        return g.add(g.linear(h, prefix + ".mlp.fc2", c.intermediate(), c.hidden(), true), x);
    }

    /** Additive mask: 0 on and below the diagonal, the lowest float above it (as HF builds it). */
    private static float[] causalMask(int n) {
        float[] mask = new float[n * n];
        for (int i = 0; i < n; i++) {
            for (int j = i + 1; j < n; j++) mask[i * n + j] = -Float.MAX_VALUE;
        }
        return mask;
    }
}
