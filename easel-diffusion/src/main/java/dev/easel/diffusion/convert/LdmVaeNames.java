package dev.easel.diffusion.convert;

import dev.easel.engine.weights.RenamedWeights;
import dev.easel.engine.weights.TensorInfo;
import dev.easel.engine.weights.WeightSource;
import dev.easel.engine.weights.WeightsException;

import java.util.Collection;
import java.util.HashMap;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Names of the original (LDM) autoencoder, as in SD/SDXL checkpoints ({@code first_stage_model.*}) and
 * FLUX's {@code ae.safetensors}, mapped to diffusers' {@code AutoencoderKL} names:
 * {@code encoder.down.i.block.j} = {@code encoder.down_blocks.i.resnets.j}, {@code decoder.up.k} =
 * {@code decoder.up_blocks.(levels-1-k)} (LDM numbers decoder levels from the bottom),
 * {@code mid.block_1/2} = {@code mid_block.resnets.0/1}, {@code mid.attn_1.{norm,q,k,v,proj_out}} =
 * {@code mid_block.attentions.0.{group_norm,to_q,to_k,to_v,to_out.0}}. The attention projections are 1x1
 * convolutions [C,C,1,1] in LDM and Linear layers [C,C] in diffusers: see {@link #isAttentionProjection}.
 */
public final class LdmVaeNames {
    private static final Pattern LEVEL = Pattern.compile("(encoder\\.down|decoder\\.up)\\.(\\d+)\\.(.+)");
    private static final Pattern RESNET_PART = Pattern.compile("(norm1|conv1|norm2|conv2)\\.(weight|bias)");
    private static final Pattern BLOCK = Pattern.compile("block\\.(\\d+)\\.(.+)");
    private static final Pattern ATTENTION_PROJECTION =
            Pattern.compile("(encoder|decoder)\\.mid_block\\.attentions\\.0\\.(to_q|to_k|to_v|to_out\\.0)\\.weight");
    private static final Map<String, String> MID_PARTS = Map.of(
            "mid.block_1.", "mid_block.resnets.0.",
            "mid.block_2.", "mid_block.resnets.1.",
            "mid.attn_1.norm.", "mid_block.attentions.0.group_norm.",
            "mid.attn_1.q.", "mid_block.attentions.0.to_q.",
            "mid.attn_1.k.", "mid_block.attentions.0.to_k.",
            "mid.attn_1.v.", "mid_block.attentions.0.to_v.",
            "mid.attn_1.proj_out.", "mid_block.attentions.0.to_out.0.",
            "norm_out.", "conv_norm_out.");

    private LdmVaeNames() {
    }

    /**
     * The autoencoder under {@code prefix} ({@code first_stage_model.}, or {@code ""} for a standalone file) of a
     * checkpoint, under diffusers names, with the attention projections seen as [C,C] where stored as [C,C,1,1].
     */
    public static RenamedWeights view(WeightSource checkpoint, String prefix) {
        Map<String, String> stripped = canonicalToOriginal(
                PrefixedKeys.under(checkpoint.names(), prefix), PrefixedKeys.describe(checkpoint, prefix));
        Map<String, String> names = PrefixedKeys.restore(stripped, prefix);
        Map<String, long[]> shapes = new HashMap<>();
        names.forEach((canonical, original) -> {
            TensorInfo t = checkpoint.info(original);
            if (isAttentionProjection(canonical) && t.rank() == 4 && t.dim(2) == 1 && t.dim(3) == 1) {
                shapes.put(canonical, new long[]{t.dim(0), t.dim(1)});
            }
        });
        return new RenamedWeights(checkpoint, "VAE, diffusers names", names, shapes);
    }

    /**
     * Diffusers name to LDM name for every VAE key (without the {@code first_stage_model.} prefix), sorted by
     * diffusers name.
     *
     * @throws WeightsException naming a key that fits no known part of the autoencoder
     */
    public static Map<String, String> canonicalToOriginal(Collection<String> ldmKeys, String source) {
        int decoderLevels = decoderLevels(ldmKeys);
        Map<String, String> names = new TreeMap<>();
        for (String key : ldmKeys) {
            String canonical = canonical(key, decoderLevels);
            if (canonical == null) {
                throw WeightsException.forTensor(source, key, "is not a part of an LDM autoencoder that Easel knows");
            }
            String previous = names.put(canonical, key);
            if (previous != null) {
                throw WeightsException.forTensor(source, key, "and '" + previous + "' both map to '" + canonical + "'");
            }
        }
        return names;
    }

    /**
     * The inverse of {@link #canonicalToOriginal}: diffusers parameters (name to shape) under LDM names, the attention
     * projections as the [C,C,1,1] convolutions LDM stores, for writing an {@code ae.safetensors} as BFL ships it.
     * Checked by mapping the result back: a name this cannot place is an error, not a silently wrong file.
     */
    public static Map<String, long[]> originalParameters(Map<String, long[]> canonical) {
        int levels = 0;
        for (String name : canonical.keySet()) {
            Matcher m = DIFFUSERS_UP.matcher(name);
            if (m.matches()) levels = Math.max(levels, Integer.parseInt(m.group(1)) + 1);
        }
        Map<String, long[]> original = new TreeMap<>();
        for (Map.Entry<String, long[]> p : canonical.entrySet()) {
            long[] shape = p.getValue();
            if (isAttentionProjection(p.getKey()) && shape.length == 2) shape = new long[]{shape[0], shape[1], 1, 1};
            original.put(original(p.getKey(), levels), shape);
        }
        Map<String, String> back = canonicalToOriginal(original.keySet(), "LDM names of the autoencoder");
        if (!back.keySet().equals(canonical.keySet())) {
            throw new IllegalArgumentException("the autoencoder's parameters do not map onto LDM names one to one");
        }
        return original;
    }

    private static final Pattern DIFFUSERS_UP = Pattern.compile("decoder\\.up_blocks\\.(\\d+)\\..+");
    private static final Pattern DIFFUSERS_LEVEL =
            Pattern.compile("(encoder\\.down_blocks|decoder\\.up_blocks)\\.(\\d+)\\.(resnets\\.(\\d+)|downsamplers\\.0|upsamplers\\.0)\\.(.+)");

    private static String original(String canonical, int decoderLevels) {
        Matcher m = DIFFUSERS_LEVEL.matcher(canonical);
        if (m.matches()) {
            boolean encoder = m.group(1).startsWith("encoder");
            int level = Integer.parseInt(m.group(2));
            String prefix = encoder ? "encoder.down." + level + "." : "decoder.up." + (decoderLevels - 1 - level) + ".";
            if (m.group(4) != null) return prefix + "block." + m.group(4) + "." + m.group(5).replace("conv_shortcut.", "nin_shortcut.");
            return prefix + (encoder ? "downsample." : "upsample.") + m.group(5);
        }
        int dot = canonical.indexOf('.');
        if (dot > 0) {
            String coder = canonical.substring(0, dot + 1);
            String rest = canonical.substring(dot + 1);
            for (Map.Entry<String, String> part : MID_PARTS.entrySet()) {
                if (rest.startsWith(part.getValue())) {
                    String tail = rest.substring(part.getValue().length());
                    return coder + part.getKey() + tail.replace("conv_shortcut.", "nin_shortcut.");
                }
            }
        }
        return canonical;
    }

    /** Whether a diffusers VAE weight is a Linear that LDM stores as a 1x1 convolution. */
    public static boolean isAttentionProjection(String canonicalName) {
        return ATTENTION_PROJECTION.matcher(canonicalName).matches();
    }

    private static int decoderLevels(Collection<String> ldmKeys) {
        int max = -1;
        for (String key : ldmKeys) {
            Matcher m = LEVEL.matcher(key);
            if (m.matches() && m.group(1).equals("decoder.up")) max = Math.max(max, Integer.parseInt(m.group(2)));
        }
        return max + 1;
    }

    private static String canonical(String key, int decoderLevels) {
        if (key.startsWith("quant_conv.") || key.startsWith("post_quant_conv.")) return key;
        Matcher m = LEVEL.matcher(key);
        if (m.matches()) {
            boolean encoder = m.group(1).equals("encoder.down");
            int level = Integer.parseInt(m.group(2));
            String prefix = encoder ? "encoder.down_blocks." + level + "." : "decoder.up_blocks." + (decoderLevels - 1 - level) + ".";
            return levelPart(prefix, m.group(3), encoder);
        }
        int dot = key.indexOf('.');
        if (dot < 0) return null;
        String coder = key.substring(0, dot);
        if (!coder.equals("encoder") && !coder.equals("decoder")) return null;
        String rest = key.substring(dot + 1);
        if (rest.startsWith("conv_in.") || rest.startsWith("conv_out.")) return key;
        for (Map.Entry<String, String> part : MID_PARTS.entrySet()) {
            if (rest.startsWith(part.getKey())) {
                String tail = rest.substring(part.getKey().length());
                String inner = part.getValue().contains("resnets") ? resnetPart(tail) : tail;
                return inner == null ? null : coder + "." + part.getValue() + inner;
            }
        }
        return null;
    }

    private static String levelPart(String prefix, String rest, boolean encoder) {
        Matcher block = BLOCK.matcher(rest);
        if (block.matches()) {
            String inner = resnetPart(block.group(2));
            return inner == null ? null : prefix + "resnets." + block.group(1) + "." + inner;
        }
        String sampler = encoder ? "downsample.conv." : "upsample.conv.";
        if (rest.startsWith(sampler)) {
            return prefix + (encoder ? "downsamplers" : "upsamplers") + ".0.conv." + rest.substring(sampler.length());
        }
        return null;
    }

    /** Resnet parts keep their names except the 1x1 shortcut; null for a part a resnet does not have. */
    private static String resnetPart(String rest) {
        if (rest.startsWith("nin_shortcut.")) return "conv_shortcut." + rest.substring("nin_shortcut.".length());
        return RESNET_PART.matcher(rest).matches() ? rest : null;
    }
}
