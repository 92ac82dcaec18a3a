package dev.easel.diffusion.model.clip;

import com.fasterxml.jackson.databind.JsonNode;

import java.util.Set;
import java.util.function.Function;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A CLIP text transformer (HF CLIPTextModel naming; OpenCLIP single-file weights are renamed onto it).
 *
 * @param quickGelu      CLIP-L's x*sigmoid(1.702x) instead of the exact GELU (OpenCLIP ViT-bigG)
 * @param projectionDim  width of text_projection (CLIPTextModelWithProjection), 0 when there is none
 */
public record ClipTextConfig(long vocabSize, long hidden, int layers, int heads, long intermediate,
                             long maxPositions, boolean quickGelu, long projectionDim) {

    public static ClipTextConfig fromHuggingFace(JsonNode c, boolean hasProjection) {
        return new ClipTextConfig(c.get("vocab_size").asLong(), c.get("hidden_size").asLong(),
                c.get("num_hidden_layers").asInt(), c.get("num_attention_heads").asInt(),
                c.get("intermediate_size").asLong(), c.get("max_position_embeddings").asLong(),
                "quick_gelu".equals(c.path("hidden_act").asText()),
                hasProjection ? c.path("projection_dim").asLong() : 0);
    }

    private static final Pattern LAYER = Pattern.compile("text_model\\.encoder\\.layers\\.(\\d+)\\..+");

    /**
     * From canonical weights: widths from shapes, heads = hidden / 64 (true of every CLIP text tower we serve).
     * Layers are counted by the highest index of any layer tensor, so that a layer with a tensor missing is
     * reported as such rather than silently cutting the model short.
     */
    public static ClipTextConfig infer(Set<String> names, Function<String, long[]> shape, boolean quickGelu) {
        long[] tokens = shape.apply("text_model.embeddings.token_embedding.weight");
        long[] positions = shape.apply("text_model.embeddings.position_embedding.weight");
        int layers = 0;
        for (String n : names) {
            Matcher m = LAYER.matcher(n);
            if (m.matches()) layers = Math.max(layers, Integer.parseInt(m.group(1)) + 1);
        }
        long intermediate = shape.apply("text_model.encoder.layers.0.mlp.fc1.weight")[0];
        long projection = names.contains("text_projection.weight") ? shape.apply("text_projection.weight")[0] : 0;
        return new ClipTextConfig(tokens[0], tokens[1], layers, (int) Math.max(1, tokens[1] / 64), intermediate,
                positions[0], quickGelu, projection);
    }
}
