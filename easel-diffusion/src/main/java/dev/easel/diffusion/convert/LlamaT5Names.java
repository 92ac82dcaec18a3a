package dev.easel.diffusion.convert;

import dev.easel.engine.weights.RenamedWeights;
import dev.easel.engine.weights.WeightSource;
import dev.easel.engine.weights.WeightsException;

import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A T5 encoder in a GGUF file as llama.cpp names it (the T5 encoder GGUFs distributed for FLUX.1), seen under
 * transformers' {@code T5EncoderModel} names: {@code token_embd} = {@code shared}; {@code enc.blk.N.attn_{q,k,v,o}} =
 * {@code encoder.block.N.layer.0.SelfAttention.{q,k,v,o}}; {@code enc.blk.N.attn_rel_b} = its
 * {@code relative_attention_bias}; {@code enc.blk.N.attn_norm} / {@code ffn_norm} = {@code layer.0} / {@code layer.1}
 * {@code .layer_norm}; {@code enc.blk.N.ffn_gate}, {@code ffn_up}, {@code ffn_down} = {@code DenseReluDense.wi_0},
 * {@code wi_1}, {@code wo}; {@code enc.output_norm} = {@code encoder.final_layer_norm}. A whole T5's decoder
 * ({@code dec.*}, {@code output}) is left out; any other tensor is an error naming it.
 */
public final class LlamaT5Names {
    /** Present in every llama.cpp T5 encoder. */
    public static final String MARKER = "enc.blk.0.attn_q.weight";

    private static final Pattern BLOCK = Pattern.compile("enc\\.blk\\.(\\d+)\\.([a-z_]+)\\.weight");
    private static final Map<String, String> BLOCK_PARTS = Map.of(
            "attn_q", "layer.0.SelfAttention.q",
            "attn_k", "layer.0.SelfAttention.k",
            "attn_v", "layer.0.SelfAttention.v",
            "attn_o", "layer.0.SelfAttention.o",
            "attn_rel_b", "layer.0.SelfAttention.relative_attention_bias",
            "attn_norm", "layer.0.layer_norm",
            "ffn_gate", "layer.1.DenseReluDense.wi_0",
            "ffn_up", "layer.1.DenseReluDense.wi_1",
            "ffn_down", "layer.1.DenseReluDense.wo",
            "ffn_norm", "layer.1.layer_norm");
    private static final Map<String, String> TOP = Map.of(
            "token_embd.weight", "shared.weight",
            "enc.output_norm.weight", "encoder.final_layer_norm.weight");

    private LlamaT5Names() {
    }

    /** Whether the tensor names are a llama.cpp T5 encoder's. */
    public static boolean isT5(Set<String> names) {
        return names.contains(MARKER);
    }

    public static RenamedWeights view(WeightSource gguf) {
        Map<String, String> names = new TreeMap<>();
        for (String key : gguf.names()) {
            if (key.startsWith("dec.") || key.startsWith("output.")) continue;
            String canonical = TOP.get(key);
            Matcher m = BLOCK.matcher(key);
            if (canonical == null && m.matches() && BLOCK_PARTS.containsKey(m.group(2))) {
                canonical = "encoder.block." + m.group(1) + "." + BLOCK_PARTS.get(m.group(2)) + ".weight";
            }
            if (canonical == null) {
                throw WeightsException.forTensor(gguf.location(), key, "is not a part of a llama.cpp T5 encoder that Easel knows");
            }
            names.put(canonical, key);
        }
        return new RenamedWeights(gguf, "T5 encoder, transformers names", names, Map.of());
    }
}
