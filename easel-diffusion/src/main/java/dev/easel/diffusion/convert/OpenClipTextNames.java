package dev.easel.diffusion.convert;

import dev.easel.engine.weights.DerivedWeights;
import dev.easel.engine.weights.DerivedWeights.AsStored;
import dev.easel.engine.weights.DerivedWeights.Derivation;
import dev.easel.engine.weights.DerivedWeights.Rows;
import dev.easel.engine.weights.DerivedWeights.Transposed;
import dev.easel.engine.weights.WeightSource;
import dev.easel.engine.weights.WeightsException;

import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * An OpenCLIP text tower (SDXL's {@code conditioner.embedders.1.model.*}, ViT-bigG) seen under transformers'
 * {@code CLIPTextModelWithProjection} names:
 * <ul>
 *   <li>{@code token_embedding.weight}, {@code positional_embedding} = {@code text_model.embeddings.{token,position}_embedding.weight};</li>
 *   <li>{@code transformer.resblocks.N.{ln_1,ln_2,attn.out_proj,mlp.c_fc,mlp.c_proj}} =
 *       {@code text_model.encoder.layers.N.{layer_norm1,layer_norm2,self_attn.out_proj,mlp.fc1,mlp.fc2}};</li>
 *   <li>{@code attn.in_proj_weight} [3D, D] and {@code attn.in_proj_bias} [3D] hold q, k and v stacked: rows
 *       [0, D), [D, 2D), [2D, 3D) are {@code self_attn.{q,k,v}_proj} (row ranges, not renames);</li>
 *   <li>{@code ln_final} = {@code text_model.final_layer_norm}; {@code text_projection} [hidden, proj] is applied as
 *       {@code x @ P}, so {@code text_projection.weight} [proj, hidden] is its transpose.</li>
 * </ul>
 * {@code logit_scale} (a 0-dim scalar of CLIP's contrastive loss) and {@code attn_mask} are not weights; the image
 * tower ({@code visual.*}), which some checkpoints carry along, is left out. Any other key is an error.
 */
public final class OpenClipTextNames {
    private static final Pattern LAYER = Pattern.compile("transformer\\.resblocks\\.(\\d+)\\.(.+)");
    private static final Map<String, String> LAYER_PARTS = Map.of(
            "ln_1.", "layer_norm1.",
            "ln_2.", "layer_norm2.",
            "attn.out_proj.", "self_attn.out_proj.",
            "mlp.c_fc.", "mlp.fc1.",
            "mlp.c_proj.", "mlp.fc2.");
    private static final String[] QKV = {"q_proj", "k_proj", "v_proj"};

    private OpenClipTextNames() {
    }

    /** The text tower under {@code prefix} (e.g. {@code conditioner.embedders.1.model.}) of a checkpoint. */
    public static DerivedWeights view(WeightSource checkpoint, String prefix) {
        String source = PrefixedKeys.describe(checkpoint, prefix);
        Map<String, Derivation> derived = new TreeMap<>();
        for (String key : PrefixedKeys.under(checkpoint.names(), prefix)) {
            if (key.startsWith("visual.") || key.equals("attn_mask") || key.equals("logit_scale")) continue;
            String original = prefix + key;
            Matcher layer = LAYER.matcher(key);
            if (layer.matches()) {
                String canonical = "text_model.encoder.layers." + layer.group(1) + ".";
                String part = layer.group(2);
                if (part.equals("attn.in_proj_weight") || part.equals("attn.in_proj_bias")) {
                    long rows = checkpoint.info(original).dim(0);
                    if (rows % 3 != 0) {
                        throw WeightsException.forTensor(source, key, "has " + rows + " rows, not q, k and v stacked (a multiple of 3)");
                    }
                    String suffix = part.endsWith("weight") ? ".weight" : ".bias";
                    for (int i = 0; i < 3; i++) {
                        put(derived, canonical + "self_attn." + QKV[i] + suffix, new Rows(original, i * rows / 3, rows / 3), source);
                    }
                    continue;
                }
                String renamed = renamePart(part);
                if (renamed == null) throw unknown(source, key);
                put(derived, canonical + renamed, new AsStored(original), source);
                continue;
            }
            Derivation d = switch (key) {
                case "token_embedding.weight", "positional_embedding", "ln_final.weight", "ln_final.bias" -> new AsStored(original);
                case "text_projection" -> new Transposed(original);
                default -> throw unknown(source, key);
            };
            put(derived, switch (key) {
                case "token_embedding.weight" -> "text_model.embeddings.token_embedding.weight";
                case "positional_embedding" -> "text_model.embeddings.position_embedding.weight";
                case "ln_final.weight" -> "text_model.final_layer_norm.weight";
                case "ln_final.bias" -> "text_model.final_layer_norm.bias";
                default -> "text_projection.weight";
            }, d, source);
        }
        return new DerivedWeights(checkpoint, "OpenCLIP text encoder, transformers names", derived);
    }

    private static String renamePart(String part) {
        for (Map.Entry<String, String> e : LAYER_PARTS.entrySet()) {
            if (part.startsWith(e.getKey())) {
                String tail = part.substring(e.getKey().length());
                return tail.equals("weight") || tail.equals("bias") ? e.getValue() + tail : null;
            }
        }
        return null;
    }

    private static void put(Map<String, Derivation> derived, String canonical, Derivation d, String source) {
        Derivation previous = derived.put(canonical, d);
        if (previous != null) {
            throw WeightsException.forTensor(source, d.source(), "and '" + previous.source() + "' both map to '" + canonical + "'");
        }
    }

    private static WeightsException unknown(String source, String key) {
        return WeightsException.forTensor(source, key, "is not a part of an OpenCLIP text encoder that Easel knows");
    }
}
