package dev.easel.diffusion.convert;

import dev.easel.diffusion.model.flux.FluxConfig;
import dev.easel.engine.weights.DerivedWeights;
import dev.easel.engine.weights.DerivedWeights.AsStored;
import dev.easel.engine.weights.DerivedWeights.Derivation;
import dev.easel.engine.weights.DerivedWeights.RowRanges;
import dev.easel.engine.weights.DerivedWeights.Rows;
import dev.easel.engine.weights.WeightSource;
import dev.easel.engine.weights.WeightsException;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A FLUX.1 transformer in Black Forest Labs' layout (the released {@code flux1-schnell/dev.safetensors}, or the same
 * under {@code model.diffusion_model.} in ComfyUI's all-in-one checkpoints) seen under diffusers'
 * {@code FluxTransformer2DModel} names:
 * <ul>
 *   <li>{@code img_in}, {@code txt_in} = {@code x_embedder}, {@code context_embedder}; {@code time_in}, {@code vector_in},
 *       {@code guidance_in} {@code .{in,out}_layer} = {@code time_text_embed.{timestep,text,guidance}_embedder.linear_{1,2}};</li>
 *   <li>{@code double_blocks.N.{img,txt}_mod.lin} = {@code transformer_blocks.N.norm1{,_context}.linear};
 *       {@code {img,txt}_attn.qkv} hold q, k and v stacked (row thirds) = {@code attn.to_{q,k,v}} /
 *       {@code attn.add_{q,k,v}_proj}; {@code {img,txt}_attn.norm.{query,key}_norm.scale} = {@code attn.norm_{q,k}} /
 *       {@code attn.norm_added_{q,k}} {@code .weight}; {@code {img,txt}_attn.proj} = {@code attn.to_out.0} /
 *       {@code attn.to_add_out}; {@code {img,txt}_mlp.{0,2}} = {@code ff{,_context}.net.{0.proj,2}};</li>
 *   <li>{@code single_blocks.N.linear1} holds q, k, v (hidden rows each) and the MLP input (the remaining rows) =
 *       {@code single_transformer_blocks.N.attn.to_{q,k,v}}, {@code proj_mlp}; {@code linear2} = {@code proj_out};
 *       {@code norm.{query,key}_norm.scale} = {@code attn.norm_{q,k}.weight}; {@code modulation.lin} = {@code norm.linear};</li>
 *   <li>{@code final_layer.linear} = {@code proj_out}; {@code final_layer.adaLN_modulation.1} stores (shift, scale)
 *       rows where diffusers' {@code norm_out.linear} has (scale, shift): its halves swapped.</li>
 * </ul>
 * Every tensor of every block the file has must be there: one that is missing is named as the file names it. Any
 * other key is an error. Nothing is copied except the stacked rows, derived when a session binds them.
 */
public final class BflFluxNames {
    /** ComfyUI's prefix of the transformer in all-in-one checkpoints. */
    public static final String COMFY_PREFIX = "model.diffusion_model.";
    /** Present only in guidance-distilled models (FLUX.1-dev); diffusers tells dev from schnell by it. */
    public static final String GUIDANCE_MARKER = "guidance_in.in_layer.bias";

    private static final Pattern DOUBLE = Pattern.compile("double_blocks\\.(\\d+)\\.(.+)");
    private static final Pattern SINGLE = Pattern.compile("single_blocks\\.(\\d+)\\.(.+)");
    private static final String[] QKV = {"q", "k", "v"};
    private static final List<String> WEIGHT_AND_BIAS = List.of("weight", "bias");

    private static final Map<String, String> TOP = Map.ofEntries(
            Map.entry("img_in", "x_embedder"),
            Map.entry("txt_in", "context_embedder"),
            Map.entry("time_in.in_layer", "time_text_embed.timestep_embedder.linear_1"),
            Map.entry("time_in.out_layer", "time_text_embed.timestep_embedder.linear_2"),
            Map.entry("vector_in.in_layer", "time_text_embed.text_embedder.linear_1"),
            Map.entry("vector_in.out_layer", "time_text_embed.text_embedder.linear_2"),
            Map.entry("guidance_in.in_layer", "time_text_embed.guidance_embedder.linear_1"),
            Map.entry("guidance_in.out_layer", "time_text_embed.guidance_embedder.linear_2"),
            Map.entry("final_layer.linear", "proj_out"));
    private static final String FINAL_MODULATION = "final_layer.adaLN_modulation.1";
    private static final List<String> REQUIRED_TOP = List.of("img_in", "txt_in", "time_in.in_layer", "time_in.out_layer",
            "vector_in.in_layer", "vector_in.out_layer", "final_layer.linear", FINAL_MODULATION);

    /** Linear layers of a double block renamed as they are: BFL module to diffusers module (under the block). */
    private static final Map<String, String> DOUBLE_LINEARS = Map.of(
            "img_mod.lin", "norm1.linear",
            "txt_mod.lin", "norm1_context.linear",
            "img_attn.proj", "attn.to_out.0",
            "txt_attn.proj", "attn.to_add_out",
            "img_mlp.0", "ff.net.0.proj",
            "img_mlp.2", "ff.net.2",
            "txt_mlp.0", "ff_context.net.0.proj",
            "txt_mlp.2", "ff_context.net.2");
    private static final Map<String, String> DOUBLE_NORMS = Map.of(
            "img_attn.norm.query_norm.scale", "attn.norm_q.weight",
            "img_attn.norm.key_norm.scale", "attn.norm_k.weight",
            "txt_attn.norm.query_norm.scale", "attn.norm_added_q.weight",
            "txt_attn.norm.key_norm.scale", "attn.norm_added_k.weight");
    private static final Map<String, String> SINGLE_LINEARS = Map.of(
            "linear2", "proj_out",
            "modulation.lin", "norm.linear");
    private static final Map<String, String> SINGLE_NORMS = Map.of(
            "norm.query_norm.scale", "attn.norm_q.weight",
            "norm.key_norm.scale", "attn.norm_k.weight");

    private BflFluxNames() {
    }

    /**
     * Every tensor of a FLUX.1 transformer of shape {@code c} as Black Forest Labs names and shapes it (q, k, v stacked,
     * {@code linear1} holding the MLP input too): what a BFL file of that model holds, for writing one.
     */
    public static Map<String, long[]> parameters(FluxConfig c) {
        long h = c.hidden();
        long mlp = c.mlpHidden();
        Map<String, long[]> p = new java.util.LinkedHashMap<>();
        linear(p, "img_in", h, c.inChannels());
        linear(p, "txt_in", h, c.contextDim());
        linear(p, "time_in.in_layer", h, FluxConfig.TIME_PROJECTION_CHANNELS);
        linear(p, "time_in.out_layer", h, h);
        linear(p, "vector_in.in_layer", h, c.pooledDim());
        linear(p, "vector_in.out_layer", h, h);
        if (c.guidanceEmbeds()) {
            linear(p, "guidance_in.in_layer", h, FluxConfig.TIME_PROJECTION_CHANNELS);
            linear(p, "guidance_in.out_layer", h, h);
        }
        for (int i = 0; i < c.doubleBlocks(); i++) {
            String b = "double_blocks." + i + ".";
            for (String stream : List.of("img", "txt")) {
                linear(p, b + stream + "_mod.lin", 6 * h, h);
                linear(p, b + stream + "_attn.qkv", 3 * h, h);
                p.put(b + stream + "_attn.norm.query_norm.scale", new long[]{c.headDim()});
                p.put(b + stream + "_attn.norm.key_norm.scale", new long[]{c.headDim()});
                linear(p, b + stream + "_attn.proj", h, h);
                linear(p, b + stream + "_mlp.0", mlp, h);
                linear(p, b + stream + "_mlp.2", h, mlp);
            }
        }
        for (int i = 0; i < c.singleBlocks(); i++) {
            String b = "single_blocks." + i + ".";
            linear(p, b + "linear1", 3 * h + mlp, h);
            linear(p, b + "linear2", h, h + mlp);
            p.put(b + "norm.query_norm.scale", new long[]{c.headDim()});
            p.put(b + "norm.key_norm.scale", new long[]{c.headDim()});
            linear(p, b + "modulation.lin", 3 * h, h);
        }
        linear(p, "final_layer.linear", c.inChannels(), h);
        linear(p, FINAL_MODULATION, 2 * h, h);
        return p;
    }

    private static void linear(Map<String, long[]> p, String module, long out, long in) {
        p.put(module + ".weight", new long[]{out, in});
        p.put(module + ".bias", new long[]{out});
    }

    /** The transformer of a BFL-layout file, with or without ComfyUI's {@link #COMFY_PREFIX}. */
    public static DerivedWeights view(WeightSource checkpoint) {
        return view(checkpoint, prefixOf(checkpoint));
    }

    /** {@link #COMFY_PREFIX} when the transformer lies under it, else the empty prefix. */
    public static String prefixOf(WeightSource checkpoint) {
        return PrefixedKeys.anyUnder(checkpoint.names(), COMFY_PREFIX + "double_blocks.")
                || PrefixedKeys.anyUnder(checkpoint.names(), COMFY_PREFIX + "single_blocks.") ? COMFY_PREFIX : "";
    }

    /** Whether the transformer under {@code prefix} embeds the guidance scale (FLUX.1-dev style). */
    public static boolean hasGuidance(WeightSource checkpoint, String prefix) {
        return checkpoint.contains(prefix + GUIDANCE_MARKER);
    }

    /** The transformer under {@code prefix} (empty, or {@link #COMFY_PREFIX}) of a checkpoint, under diffusers names. */
    public static DerivedWeights view(WeightSource checkpoint, String prefix) {
        String source = PrefixedKeys.describe(checkpoint, prefix);
        List<String> keys = PrefixedKeys.under(checkpoint.names(), prefix);
        Map<String, Derivation> derived = new TreeMap<>();
        TreeSet<Integer> doubles = new TreeSet<>();
        TreeSet<Integer> singles = new TreeSet<>();
        for (String key : keys) {
            String original = prefix + key;
            Matcher m;
            if ((m = DOUBLE.matcher(key)).matches()) {
                doubles.add(Integer.parseInt(m.group(1)));
                doubleBlockPart(derived, checkpoint, source, original, "transformer_blocks." + m.group(1) + ".", m.group(2));
            } else if ((m = SINGLE.matcher(key)).matches()) {
                singles.add(Integer.parseInt(m.group(1)));
                singleBlockPart(derived, checkpoint, source, prefix + "single_blocks." + m.group(1) + ".",
                        "single_transformer_blocks." + m.group(1) + ".", m.group(2));
            } else {
                topPart(derived, checkpoint, source, original, key);
            }
        }
        requireAll(checkpoint, prefix, source, doubles, singles);
        return new DerivedWeights(checkpoint, "FLUX transformer, diffusers names", derived);
    }

    private static void topPart(Map<String, Derivation> derived, WeightSource checkpoint, String source, String original, String key) {
        String module = module(key);
        String tail = tail(key, module);
        if (module.isEmpty()) throw unknown(source, original);
        if (module.equals(FINAL_MODULATION) && WEIGHT_AND_BIAS.contains(tail)) {
            long rows = checkpoint.info(original).dim(0);
            if (rows % 2 != 0) {
                throw WeightsException.forTensor(source, original, "has " + rows + " rows, not (shift, scale) halves");
            }
            put(derived, "norm_out.linear." + tail, RowRanges.swappedHalves(original, rows), source);
            return;
        }
        String canonical = TOP.get(module);
        if (canonical == null || !WEIGHT_AND_BIAS.contains(tail)) throw unknown(source, original);
        put(derived, canonical + "." + tail, new AsStored(original), source);
    }

    private static void doubleBlockPart(Map<String, Derivation> derived, WeightSource checkpoint, String source,
                                        String original, String block, String part) {
        if (asStored(derived, source, original, block, part, DOUBLE_NORMS, DOUBLE_LINEARS)) return;
        String module = module(part);
        String tail = tail(part, module);
        if (module.equals("img_attn.qkv") || module.equals("txt_attn.qkv")) {
            long rows = checkpoint.info(original).dim(0);
            if (rows % 3 != 0) {
                throw WeightsException.forTensor(source, original, "has " + rows + " rows, not q, k and v stacked (a multiple of 3)");
            }
            boolean image = module.startsWith("img");
            for (int i = 0; i < 3; i++) {
                String name = image ? "attn.to_" + QKV[i] : "attn.add_" + QKV[i] + "_proj";
                put(derived, block + name + "." + tail, new Rows(original, i * rows / 3, rows / 3), source);
            }
        } else {
            throw unknown(source, original);
        }
    }

    /**
     * Maps a block's part that is read as stored: a norm scale, or a linear layer renamed as it is. False for a fused
     * linear the caller splits; an error names a part that is neither a weight nor a bias.
     */
    private static boolean asStored(Map<String, Derivation> derived, String source, String original, String block, String part,
                                    Map<String, String> norms, Map<String, String> linears) {
        String norm = norms.get(part);
        if (norm != null) {
            put(derived, block + norm, new AsStored(original), source);
            return true;
        }
        String module = module(part);
        String tail = tail(part, module);
        if (!WEIGHT_AND_BIAS.contains(tail)) throw unknown(source, original);
        String linear = linears.get(module);
        if (linear == null) return false;
        put(derived, block + linear + "." + tail, new AsStored(original), source);
        return true;
    }

    /** What follows the module in a part's name: {@code weight} or {@code bias}. */
    private static String tail(String part, String module) {
        return part.substring(module.isEmpty() ? 0 : module.length() + 1);
    }

    /** {@code linear1}'s rows are q, k, v (the model width each, the width being linear1's input size) and the MLP input. */
    private static void singleBlockPart(Map<String, Derivation> derived, WeightSource checkpoint, String source,
                                        String bflBlock, String block, String part) {
        String original = bflBlock + part;
        if (asStored(derived, source, original, block, part, SINGLE_NORMS, SINGLE_LINEARS)) return;
        String module = module(part);
        String tail = tail(part, module);
        if (module.equals("linear1")) {
            String weight = bflBlock + "linear1.weight";
            if (!checkpoint.contains(weight)) {
                throw WeightsException.forTensor(source, weight, "is missing (its input size tells how " + original + " is split)");
            }
            long hidden = checkpoint.info(weight).dim(1);
            long rows = checkpoint.info(original).dim(0);
            if (rows <= 3 * hidden) {
                throw WeightsException.forTensor(source, original, "has " + rows + " rows, not q, k, v (" + hidden
                        + " each) and an MLP input stacked");
            }
            for (int i = 0; i < 3; i++) {
                put(derived, block + "attn.to_" + QKV[i] + "." + tail, new Rows(original, i * hidden, hidden), source);
            }
            put(derived, block + "proj_mlp." + tail, new Rows(original, 3 * hidden, rows - 3 * hidden), source);
        } else {
            throw unknown(source, original);
        }
    }

    /** Each block present, and the model around them, must be complete; a missing tensor is named as the file names it. */
    private static void requireAll(WeightSource checkpoint, String prefix, String source, TreeSet<Integer> doubles, TreeSet<Integer> singles) {
        List<String> modules = new ArrayList<>(REQUIRED_TOP);
        if (checkpoint.contains(prefix + "guidance_in.in_layer.weight") || checkpoint.contains(prefix + GUIDANCE_MARKER)
                || checkpoint.contains(prefix + "guidance_in.out_layer.weight") || checkpoint.contains(prefix + "guidance_in.out_layer.bias")) {
            modules.add("guidance_in.in_layer");
            modules.add("guidance_in.out_layer");
        }
        List<String> expected = new ArrayList<>();
        for (String module : modules) WEIGHT_AND_BIAS.forEach(t -> expected.add(module + "." + t));
        if (doubles.isEmpty() && singles.isEmpty()) {
            throw new WeightsException(source + ": no FLUX transformer blocks (double_blocks.N.*, single_blocks.N.*)");
        }
        for (int i = 0; i <= (doubles.isEmpty() ? -1 : doubles.last()); i++) {
            String block = "double_blocks." + i + ".";
            for (String module : DOUBLE_LINEARS.keySet()) WEIGHT_AND_BIAS.forEach(t -> expected.add(block + module + "." + t));
            for (String module : List.of("img_attn.qkv", "txt_attn.qkv")) WEIGHT_AND_BIAS.forEach(t -> expected.add(block + module + "." + t));
            DOUBLE_NORMS.keySet().forEach(n -> expected.add(block + n));
        }
        for (int i = 0; i <= (singles.isEmpty() ? -1 : singles.last()); i++) {
            String block = "single_blocks." + i + ".";
            for (String module : List.of("linear1", "linear2", "modulation.lin")) WEIGHT_AND_BIAS.forEach(t -> expected.add(block + module + "." + t));
            SINGLE_NORMS.keySet().forEach(n -> expected.add(block + n));
        }
        for (String key : new TreeSet<>(expected)) {
            if (!checkpoint.contains(prefix + key)) {
                throw WeightsException.forTensor(source, prefix + key, "is missing: the FLUX transformer is incomplete");
            }
        }
    }

    /** The module of a parameter: everything before its last dot (empty when there is none). */
    private static String module(String key) {
        int dot = key.lastIndexOf('.');
        return dot < 0 ? "" : key.substring(0, dot);
    }

    private static void put(Map<String, Derivation> derived, String canonical, Derivation d, String source) {
        Derivation previous = derived.put(canonical, d);
        if (previous != null) {
            throw WeightsException.forTensor(source, d.source(), "and '" + previous.source() + "' both map to '" + canonical + "'");
        }
    }

    private static WeightsException unknown(String source, String key) {
        return WeightsException.forTensor(source, key, "is not a part of a FLUX.1 transformer that Easel knows");
    }
}
