package dev.easel.diffusion.model.t5;

import dev.easel.diffusion.model.ComponentLoader;
import dev.easel.engine.runtime.OnnxModel;
import dev.easel.engine.runtime.RuntimeOptions;
import dev.easel.engine.tensor.FloatTensor;
import dev.easel.engine.tensor.LongTensor;
import dev.easel.engine.weights.RenamedWeights;
import dev.easel.engine.weights.WeightSource;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/** A T5 encoder session: token ids in (from the T5 tokenizer), hidden states out. */
public final class T5TextEncoder implements AutoCloseable {
    private final T5Config config;
    private final OnnxModel model;
    /** Position buckets by sequence length: the pipelines use one or two lengths (256, 512). */
    private final Map<Integer, LongTensor> buckets = new ConcurrentHashMap<>();

    /**
     * @param weights   canonical (transformers) names; the embedding may be stored as {@code shared.weight} or as
     *                  {@code encoder.embed_tokens.weight}
     * @param component the component's name in error messages (e.g. "text_encoder_2")
     */
    public T5TextEncoder(T5Config config, WeightSource weights, String component, RuntimeOptions options) {
        this.config = config;
        this.model = ComponentLoader.load(component, T5Encoder.graph(config, options.linears()), withSharedEmbedding(weights), options);
    }

    /** last_hidden_state [1, L, d_model] of the ids (L = their count, padding included). */
    public FloatTensor encode(long[] inputIds) {
        int length = inputIds.length;
        LongTensor positions = buckets.computeIfAbsent(length, n -> new LongTensor(new long[]{n, n},
                T5Encoder.positionBuckets(n, config.relativeAttentionNumBuckets(), config.relativeAttentionMaxDistance())));
        return model.run(Map.of("input_ids", new LongTensor(new long[]{1, length}, inputIds.clone()),
                "position_buckets", positions)).get("last_hidden_state");
    }

    public T5Config config() {
        return config;
    }

    public long weightBytes() {
        return model.weightBytes();
    }

    /**
     * The weights with the embedding under {@code shared.weight}: transformers' T5EncoderModel files may hold it
     * only as the encoder's {@code encoder.embed_tokens.weight}, the same tensor.
     */
    public static WeightSource withSharedEmbedding(WeightSource weights) {
        if (weights.contains(T5Encoder.EMBEDDING) || !weights.contains(T5Encoder.EMBEDDING_COPY)) return weights;
        Map<String, String> names = new LinkedHashMap<>();
        for (String n : weights.names()) names.put(n.equals(T5Encoder.EMBEDDING_COPY) ? T5Encoder.EMBEDDING : n, n);
        return new RenamedWeights(weights, "t5 encoder, embedding as " + T5Encoder.EMBEDDING, names, Map.of());
    }

    @Override
    public void close() {
        model.close();
    }
}
