package dev.easel.diffusion.convert;

import dev.easel.engine.weights.RenamedWeights;
import dev.easel.engine.weights.WeightSource;
import dev.easel.engine.weights.WeightsException;

import java.util.Collection;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Names of the original (LDM/SGM) UNet of Stable Diffusion 1.x/2.x/XL checkpoints, mapped to diffusers'
 * {@code UNet2DConditionModel} names. The layout (levels, resnets per level, which blocks carry transformers)
 * is read from the keys, so any configuration works, not only the released ones:
 * <ul>
 *   <li>{@code input_blocks.{1+i(L+1)+j}.0} = {@code down_blocks.i.resnets.j}, {@code .1} = its {@code attentions.j};
 *       {@code input_blocks.{(i+1)(L+1)}.0.op} = {@code down_blocks.i.downsamplers.0.conv} (L = resnets per level);</li>
 *   <li>{@code middle_block.{0,1,2}} = {@code mid_block.resnets.0}, {@code attentions.0}, {@code resnets.1};</li>
 *   <li>{@code output_blocks.{i(L+1)+j}.0} = {@code up_blocks.i.resnets.j}, a transformer sub-block = {@code attentions.j},
 *       a bare {@code conv} sub-block = {@code upsamplers.0.conv}.</li>
 * </ul>
 * Transformer internals have the same names in both layouts.
 */
public final class LdmUNetNames {
    private static final Pattern INPUT = Pattern.compile("input_blocks\\.(\\d+)\\.(\\d+)\\.(.+)");
    private static final Pattern MIDDLE = Pattern.compile("middle_block\\.([012])\\.(.+)");
    private static final Pattern OUTPUT = Pattern.compile("output_blocks\\.(\\d+)\\.(\\d+)\\.(.+)");
    private static final Pattern UPSAMPLER_CONV = Pattern.compile("conv\\.(weight|bias)");
    private static final Map<String, String> FIXED_PREFIXES = Map.of(
            "time_embed.0.", "time_embedding.linear_1.",
            "time_embed.2.", "time_embedding.linear_2.",
            "label_emb.0.0.", "add_embedding.linear_1.",
            "label_emb.0.2.", "add_embedding.linear_2.",
            "out.0.", "conv_norm_out.",
            "out.2.", "conv_out.");
    private static final Map<String, String> RESNET_PARTS = Map.of(
            "in_layers.0.", "norm1.",
            "in_layers.2.", "conv1.",
            "emb_layers.1.", "time_emb_proj.",
            "out_layers.0.", "norm2.",
            "out_layers.3.", "conv2.",
            "skip_connection.", "conv_shortcut.");

    private LdmUNetNames() {
    }

    /** The UNet under {@code prefix} (e.g. {@code model.diffusion_model.}) of a checkpoint, under diffusers names. */
    public static RenamedWeights view(WeightSource checkpoint, String prefix) {
        Map<String, String> names = canonicalToOriginal(
                PrefixedKeys.under(checkpoint.names(), prefix), PrefixedKeys.describe(checkpoint, prefix));
        return new RenamedWeights(checkpoint, "UNet, diffusers names", PrefixedKeys.restore(names, prefix), Map.of());
    }

    /** Levels of the UNet and resnets per level on the way down (the way up has one more per level). */
    public record Layout(int levels, int layersPerBlock) {
    }

    /** Infers the layout from where the downsamplers ({@code input_blocks.N.0.op}) sit. */
    public static Layout layout(Collection<String> ldmKeys, String source) {
        TreeSet<Integer> resnets = new TreeSet<>();
        TreeSet<Integer> downsamplers = new TreeSet<>();
        for (String key : ldmKeys) {
            Matcher m = INPUT.matcher(key);
            if (!m.matches() || m.group(1).equals("0")) continue;
            int block = Integer.parseInt(m.group(1));
            if (m.group(2).equals("0") && m.group(3).startsWith("op.")) downsamplers.add(block);
            else if (m.group(2).equals("0")) resnets.add(block);
        }
        if (resnets.isEmpty()) {
            throw new WeightsException(source + ": no UNet resnet found under input_blocks");
        }
        int layers = downsamplers.isEmpty() ? resnets.size() : downsamplers.first() - 1;
        Layout layout = new Layout(downsamplers.size() + 1, layers);
        for (int level = 0; level < layout.levels(); level++) {
            for (int j = 0; j <= layers; j++) {
                int block = 1 + level * (layers + 1) + j;
                boolean expectDownsampler = j == layers;
                if (expectDownsampler && level < layout.levels() - 1 && !downsamplers.contains(block)
                        || !expectDownsampler && !resnets.contains(block)) {
                    throw new WeightsException(source + ": UNet input_blocks do not follow the layout of " + layout.levels()
                            + " levels x " + layers + " resnets: block " + block + " is missing or out of place");
                }
            }
        }
        return layout;
    }

    /**
     * Diffusers name to LDM name for every UNet key (keys given without the {@code model.diffusion_model.} prefix),
     * sorted by diffusers name.
     *
     * @throws WeightsException naming a key that fits no known part of the UNet
     */
    public static Map<String, String> canonicalToOriginal(Collection<String> ldmKeys, String source) {
        Layout layout = layout(ldmKeys, source);
        Map<String, String> names = new TreeMap<>();
        for (String key : ldmKeys) {
            String canonical = canonical(key, layout);
            if (canonical == null) {
                throw WeightsException.forTensor(source, key, "is not a part of an LDM UNet that Easel knows");
            }
            String previous = names.put(canonical, key);
            if (previous != null) {
                throw WeightsException.forTensor(source, key, "and '" + previous + "' both map to '" + canonical + "'");
            }
        }
        return names;
    }

    private static String canonical(String key, Layout layout) {
        for (Map.Entry<String, String> fixed : FIXED_PREFIXES.entrySet()) {
            if (key.startsWith(fixed.getKey())) return fixed.getValue() + key.substring(fixed.getKey().length());
        }
        int perLevel = layout.layersPerBlock() + 1;
        Matcher m;
        if ((m = INPUT.matcher(key)).matches()) {
            int block = Integer.parseInt(m.group(1));
            int sub = Integer.parseInt(m.group(2));
            String rest = m.group(3);
            if (block == 0) return sub == 0 ? "conv_in." + rest : null;
            int level = (block - 1) / perLevel;
            int j = (block - 1) % perLevel;
            String prefix = "down_blocks." + level + ".";
            if (j == layout.layersPerBlock()) {
                return sub == 0 && rest.startsWith("op.") ? prefix + "downsamplers.0.conv." + rest.substring(3) : null;
            }
            return sub == 0 ? resnet(prefix + "resnets." + j + ".", rest)
                    : sub == 1 ? prefix + "attentions." + j + "." + rest : null;
        }
        if ((m = MIDDLE.matcher(key)).matches()) {
            String rest = m.group(2);
            return switch (m.group(1)) {
                case "0" -> resnet("mid_block.resnets.0.", rest);
                case "1" -> "mid_block.attentions.0." + rest;
                default -> resnet("mid_block.resnets.1.", rest);
            };
        }
        if ((m = OUTPUT.matcher(key)).matches()) {
            int block = Integer.parseInt(m.group(1));
            int sub = Integer.parseInt(m.group(2));
            String rest = m.group(3);
            String prefix = "up_blocks." + block / perLevel + ".";
            int j = block % perLevel;
            if (sub == 0) return resnet(prefix + "resnets." + j + ".", rest);
            // An upsampler is a bare conv; it follows the transformer when the block has one (sub 2), else sub 1.
            if (UPSAMPLER_CONV.matcher(rest).matches()) return prefix + "upsamplers.0." + rest;
            return sub == 1 ? prefix + "attentions." + j + "." + rest : null;
        }
        return null;
    }

    private static String resnet(String prefix, String rest) {
        for (Map.Entry<String, String> part : RESNET_PARTS.entrySet()) {
            if (rest.startsWith(part.getKey())) return prefix + part.getValue() + rest.substring(part.getKey().length());
        }
        return null;
    }
}
