package dev.easel.diffusion.model.t5;

import com.fasterxml.jackson.databind.JsonNode;

import java.util.Set;
import java.util.function.Function;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A T5 v1.1 encoder stack (HF T5EncoderModel naming), as FLUX.1 and SD3 use for their long prompts.
 *
 * @param dModel                       width of the residual stream
 * @param dKv                          width of one attention head (heads x dKv need not equal dModel)
 * @param dFf                          width of the feed-forward's hidden layer
 * @param relativeAttentionNumBuckets  rows of the relative position bias table
 * @param relativeAttentionMaxDistance distance from which every position falls in the last (log-spaced) bucket
 * @param layerNormEpsilon             epsilon of the RMS norms
 */
public record T5Config(long dModel, long dKv, int heads, long dFf, int layers, int relativeAttentionNumBuckets,
                       int relativeAttentionMaxDistance, long vocabSize, float layerNormEpsilon, FeedForward feedForward) {

    /** The feed-forward block. T5 v1.1 (and every encoder we serve) uses a gated GELU with the tanh approximation. */
    public enum FeedForward {
        /** wo(gelu_tanh(wi_0 x) * wi_1 x): HF's {@code feed_forward_proj="gated-gelu"} ({@code gelu_new}). */
        GATED_GELU_TANH
    }

    /** T5 v1.1's epsilon, not stored in single-file checkpoints. */
    public static final float DEFAULT_EPSILON = 1e-6f;
    /** The maximum distance of every T5 v1.1 model; a checkpoint's tensors do not tell it. */
    public static final int DEFAULT_MAX_DISTANCE = 128;

    public T5Config {
        if (heads <= 0 || dKv <= 0 || dModel <= 0 || dFf <= 0 || layers <= 0 || relativeAttentionNumBuckets < 4) {
            throw new IllegalArgumentException("not a T5 encoder configuration: d_model " + dModel + ", " + heads
                    + " heads x " + dKv + ", d_ff " + dFf + ", " + layers + " layers, "
                    + relativeAttentionNumBuckets + " buckets");
        }
    }

    /** Google's T5-XXL v1.1 encoder, FLUX.1's text_encoder_2 (4.76 B parameters). */
    public static T5Config xxl() {
        return new T5Config(4096, 64, 64, 10240, 24, 32, DEFAULT_MAX_DISTANCE, 32128, DEFAULT_EPSILON,
                FeedForward.GATED_GELU_TANH);
    }

    /** Width of the attention's q, k, v projections (all heads). */
    public long innerDim() {
        return heads * dKv;
    }

    /** From a transformers {@code config.json} ({@code T5Config}). */
    public static T5Config fromHuggingFace(JsonNode c) {
        return new T5Config(c.get("d_model").asLong(), c.get("d_kv").asLong(), c.get("num_heads").asInt(),
                c.get("d_ff").asLong(), c.get("num_layers").asInt(),
                c.path("relative_attention_num_buckets").asInt(32),
                c.path("relative_attention_max_distance").asInt(DEFAULT_MAX_DISTANCE),
                c.get("vocab_size").asLong(), (float) c.path("layer_norm_epsilon").asDouble(DEFAULT_EPSILON),
                feedForward(c));
    }

    private static FeedForward feedForward(JsonNode c) {
        String proj = c.path("feed_forward_proj").asText("relu");
        // transformers maps "gated-gelu" to gelu_new (the tanh approximation) whatever dense_act_fn says
        if (proj.equals("gated-gelu")) return FeedForward.GATED_GELU_TANH;
        throw new IllegalArgumentException("unsupported T5 feed-forward '" + proj + "' (only T5 v1.1's gated-gelu is)");
    }

    private static final Pattern BLOCK = Pattern.compile("encoder\\.block\\.(\\d+)\\..+");

    /**
     * From canonical weights (a single file carries no config): heads and buckets from layer 0's relative
     * attention bias table [buckets, heads], d_kv from the query rows, d_ff from {@code wi_0}, vocabulary and
     * width from the embedding ({@code shared.weight}, or its copy {@code encoder.embed_tokens.weight}).
     * Layers are counted by the highest block index, so that a block with a tensor missing is reported as such.
     * Max distance and epsilon are T5 v1.1's.
     */
    public static T5Config infer(Set<String> names, Function<String, long[]> shape) {
        long[] embedding = shape.apply(names.contains(T5Encoder.EMBEDDING) || !names.contains(T5Encoder.EMBEDDING_COPY)
                ? T5Encoder.EMBEDDING : T5Encoder.EMBEDDING_COPY);
        long[] bias = shape.apply(T5Encoder.RELATIVE_BIAS);
        long[] query = shape.apply("encoder.block.0.layer.0.SelfAttention.q.weight");
        long[] gate = shape.apply("encoder.block.0.layer.1.DenseReluDense.wi_0.weight");
        int layers = 0;
        for (String n : names) {
            Matcher m = BLOCK.matcher(n);
            if (m.matches()) layers = Math.max(layers, Integer.parseInt(m.group(1)) + 1);
        }
        int heads = (int) bias[1];
        if (query[0] % heads != 0) {
            throw new IllegalArgumentException(query[0] + " query rows do not split into " + heads + " heads");
        }
        return new T5Config(embedding[1], query[0] / heads, heads, gate[0], layers, (int) bias[0],
                DEFAULT_MAX_DISTANCE, embedding[0], DEFAULT_EPSILON, FeedForward.GATED_GELU_TANH);
    }
}
