package dev.easel.diffusion.model.t5;

import dev.easel.engine.graph.GraphBuilder;
import dev.easel.engine.graph.Value;
import dev.easel.engine.runtime.Linears;

import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * The T5 v1.1 encoder stack as an ONNX graph (HF T5EncoderModel names). Inputs: {@code input_ids} (B, T) int64
 * and {@code position_buckets} (T, T) int64, the relative position bucket of every (query, key) pair
 * ({@link #positionBuckets}, integer math done once per length in Java). Output: {@code last_hidden_state}
 * (B, T, d_model), after the final norm. No attention mask: every token, padding included, attends to every
 * other, as the FLUX pipelines run it.
 *
 * <p>What sets T5 apart from a textbook transformer: RMS norms without bias or mean subtraction, attention
 * scores not scaled by 1/sqrt(d_kv), positions given only by a per-head additive bias looked up from layer 0's
 * table and shared by every layer, and bias-free linears throughout.
 */
public final class T5Encoder {
    /** The token embedding. */
    static final String EMBEDDING = "shared.weight";
    /** The encoder's own name for the embedding, which transformers files may store instead of (or beside) it. */
    static final String EMBEDDING_COPY = "encoder.embed_tokens.weight";
    /** Layer 0's relative position bias table [buckets, heads], the only one T5 has. */
    static final String RELATIVE_BIAS = "encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight";

    private T5Encoder() {
    }

    public static GraphBuilder graph(T5Config c) {
        return graph(c, Linears.FP32);
    }

    /** With the attention (q, k, v, o) and feed-forward (wi_0, wi_1, wo) linears emitted as {@code linears} says. */
    public static GraphBuilder graph(T5Config c, Linears linears) {
        GraphBuilder g = new GraphBuilder("t5_encoder");
        Value ids = g.longInput("input_ids", "batch", "tokens");
        Value buckets = g.longInput("position_buckets", "tokens", "tokens");
        Value h = g.gather(g.weight(EMBEDDING, c.vocabSize(), c.dModel()), ids, 0);

        // (T, T) buckets -> (T, T, heads) biases -> (1, heads, T, T), the layout attention adds to its scores
        Value table = g.weight(RELATIVE_BIAS, c.relativeAttentionNumBuckets(), c.heads());
        Value bias = g.op("Unsqueeze", List.of(g.transpose(g.gather(table, buckets, 0), 2, 0, 1), g.constantLongs(0)));

        for (int i = 0; i < c.layers(); i++) {
            h = block(g, linears, "encoder.block." + i, h, bias, c);
        }
        g.output(rmsNorm(g, h, "encoder.final_layer_norm", c), "last_hidden_state");
        return g;
    }

    /** Every tensor the encoder reads, name to shape: what a checkpoint is validated against and random ones hold. */
    public static Map<String, long[]> parameters(T5Config c) {
        return graph(c).weights();
    }

    private static Value block(GraphBuilder g, Linears linears, String prefix, Value x, Value bias, T5Config c) {
        String attention = prefix + ".layer.0.SelfAttention";
        Value h = rmsNorm(g, x, prefix + ".layer.0.layer_norm", c);
        Value[] qkv = linears.fusedLinear(g, h, c.dModel(), c.innerDim(), attention + ".q", attention + ".k", attention + ".v");
        // scale 1: T5 folds the 1/sqrt(d_kv) into its query weights' initialisation, not into the attention
        Value attended = g.msOp("MultiHeadAttention", Arrays.asList(qkv[0], qkv[1], qkv[2], null, null, bias),
                "num_heads", (long) c.heads(), "scale", 1.0f);
        x = g.add(linears.linear(g, attended, attention + ".o", c.innerDim(), c.dModel(), false), x);

        String ff = prefix + ".layer.1.DenseReluDense";
        h = rmsNorm(g, x, prefix + ".layer.1.layer_norm", c);
        Value[] gateAndUp = linears.fusedLinear(g, h, c.dModel(), c.dFf(), ff + ".wi_0", ff + ".wi_1");
        h = g.mul(g.gelu(gateAndUp[0], true), gateAndUp[1]);
        return g.add(linears.linear(g, h, ff + ".wo", c.dFf(), c.dModel(), false), x);
    }

    /** T5LayerNorm: x / sqrt(mean(x^2) + eps) * w over the last axis; no mean subtraction, no bias. */
    private static Value rmsNorm(GraphBuilder g, Value x, String prefix, T5Config c) {
        Value meanSquare = g.op("ReduceMean", List.of(g.mul(x, x), g.constantLongs(-1)), "keepdims", 1L);
        Value rms = g.op("Sqrt", List.of(g.add(meanSquare, g.scalar(c.layerNormEpsilon()))));
        return g.mul(g.div(x, rms), g.weight(prefix + ".weight", c.dModel()));
    }

    /**
     * The bucket of each (query i, key j) pair, row-major (length x length), as T5's bidirectional
     * relative_position_bucket computes it: half the buckets for keys after the query, half for the rest;
     * within a half, exact distances below a quarter of the buckets, then logarithmically wider buckets up to
     * {@code maxDistance}, beyond which all share the last. The logarithm is taken in float32, as the
     * reference does, so that distances at a bucket boundary land where the reference puts them.
     */
    public static long[] positionBuckets(int length, int buckets, int maxDistance) {
        int half = buckets / 2;
        int maxExact = half / 2;
        float logRange = (float) Math.log((double) maxDistance / maxExact);
        long[] byDistance = new long[2 * length - 1];
        for (int relative = -(length - 1); relative < length; relative++) {
            int distance = Math.abs(relative);
            long bucket;
            if (distance < maxExact) {
                bucket = distance;
            } else {
                float scaled = (float) Math.log((float) distance / maxExact) / logRange * (half - maxExact);
                bucket = Math.min(maxExact + (long) scaled, half - 1);
            }
            byDistance[relative + length - 1] = (relative > 0 ? half : 0) + bucket;
        }
        long[] out = new long[length * length];
        for (int i = 0; i < length; i++) {
            for (int j = 0; j < length; j++) out[i * length + j] = byDistance[j - i + length - 1];
        }
        return out;
    }
}
