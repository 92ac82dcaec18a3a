package dev.easel.diffusion.model;

import dev.easel.engine.graph.GraphBuilder;
import dev.easel.engine.runtime.OnnxModel;
import dev.easel.engine.runtime.RuntimeOptions;
import dev.easel.engine.weights.DerivedWeights;
import dev.easel.engine.weights.RenamedWeights;
import dev.easel.engine.weights.WeightSource;
import dev.easel.engine.weights.WeightsException;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.function.BiFunction;
import java.util.function.Function;

/**
 * Binds a model graph to a checkpoint's weights: every parameter the graph declares must be present
 * with the same shape, otherwise the error names each missing or mis-shaped tensor, under the name the
 * checkpoint stores it by (and the canonical name it is read as, when the checkpoint uses another layout).
 */
public final class ComponentLoader {
    private static final int SHOWN_PROBLEMS = 5;

    private ComponentLoader() {
    }

    public static OnnxModel load(String component, GraphBuilder graph, WeightSource weights, RuntimeOptions options) {
        validate(component, graph.weights(), weights);
        OnnxModel.WeightProvider provider = OnnxModel.WeightProvider.of(weights, graph);
        // with a cache, a model prepared before loads from it (OnnxModel's scratch file and optimisation skipped)
        return options.cache() != null ? options.cache().load(component, graph, weights, provider, options)
                : OnnxModel.create(graph, provider, options);
    }

    /**
     * Checks the parameter list (name to shape) against the checkpoint. Tensors of the wrong rank are listed
     * first (the surest sign of a damaged one: when the configuration was inferred from it, what it makes
     * look missing or mis-shaped elsewhere follows from it), then missing tensors, then other shape differences.
     */
    public static void validate(String component, Map<String, long[]> parameters, WeightSource weights) {
        List<String> missing = new ArrayList<>();
        List<String> wrongRank = new ArrayList<>();
        List<String> wrongShape = new ArrayList<>();
        // sorted, so that the message is the same from run to run
        for (Map.Entry<String, long[]> p : new TreeMap<>(parameters).entrySet()) {
            if (!weights.names().contains(p.getKey())) {
                missing.add(missing(weights, p.getKey()) + ", expected shape " + Arrays.toString(p.getValue()));
            } else {
                long[] found = weights.info(p.getKey()).shape();
                if (!Arrays.equals(found, p.getValue())) {
                    (found.length != p.getValue().length ? wrongRank : wrongShape).add(describe(weights, p.getKey())
                            + " has shape " + Arrays.toString(found) + ", expected " + Arrays.toString(p.getValue()));
                }
            }
        }
        List<String> problems = new ArrayList<>(wrongRank);
        problems.addAll(missing);
        problems.addAll(wrongShape);
        if (!problems.isEmpty()) {
            String shown = String.join("; ", problems.subList(0, Math.min(SHOWN_PROBLEMS, problems.size())));
            String more = problems.size() > SHOWN_PROBLEMS ? " (and " + (problems.size() - SHOWN_PROBLEMS) + " more)" : "";
            throw new WeightsException(fileOf(weights) + ": " + component + " weights do not fit the model: " + shown + more);
        }
    }

    /**
     * Infers a component's configuration from the names and shapes of its tensors (a single file carries no
     * config). A tensor the inference reads that is not there is reported as missing, by name, as
     * {@link #validate} does; when the shapes read do not make a configuration, they are all named, with
     * their shapes, so that the odd one stands out.
     */
    public static <T> T inferConfig(String component, WeightSource weights,
                                    BiFunction<Set<String>, Function<String, long[]>, T> inference) {
        Set<String> read = new LinkedHashSet<>();
        Function<String, long[]> shapes = name -> {
            if (!weights.names().contains(name)) {
                throw new WeightsException(fileOf(weights) + ": " + component + " weights are incomplete: "
                        + missing(weights, name) + " (needed to tell the model's configuration)");
            }
            read.add(name);
            return weights.info(name).shape();
        };
        try {
            return inference.apply(weights.names(), shapes);
        } catch (WeightsException e) {
            throw e;
        } catch (RuntimeException e) {
            List<String> shown = new ArrayList<>();
            for (String name : read) shown.add(describe(weights, name) + " " + Arrays.toString(weights.info(name).shape()));
            throw new WeightsException(fileOf(weights) + ": " + component + " weights do not fit the model: its configuration "
                    + "cannot be read from the shapes of " + (shown.isEmpty() ? "its tensors" : String.join(", ", shown))
                    + " (" + e.getMessage() + ")", e);
        }
    }

    /** The tensor as the user's file names it, with the canonical name when the file uses another layout. */
    private static String describe(WeightSource weights, String canonical) {
        if (weights instanceof RenamedWeights view) {
            String original = view.originalName(canonical);
            if (!original.equals(canonical)) return "tensor '" + original + "' (read as '" + canonical + "')";
        }
        if (weights instanceof DerivedWeights view && view.names().contains(canonical)) {
            String how = switch (view.derivation(canonical)) {
                case DerivedWeights.Rows r -> "rows " + r.first() + " to " + (r.first() + r.count()) + " of ";
                case DerivedWeights.RowRanges rs -> "rows " + String.join(" then ", rs.ranges().stream()
                        .map(r -> r.first() + " to " + (r.first() + r.count())).toList()) + " of ";
                case DerivedWeights.Transposed t -> "the transpose of ";
                case DerivedWeights.AsStored a -> "";
            };
            return how + "tensor '" + view.derivation(canonical).source() + "' (read as '" + canonical + "')";
        }
        return "tensor '" + canonical + "'";
    }

    private static String missing(WeightSource weights, String canonical) {
        if (weights instanceof RenamedWeights view) {
            Optional<String> original = likelyOriginalName(view, canonical);
            if (original.isPresent()) {
                return "tensor '" + original.get() + "' (read as '" + canonical + "') is missing";
            }
            return "tensor '" + canonical + "' is missing (no tensor of the file is read as it)";
        }
        return "tensor '" + canonical + "' is missing";
    }

    /**
     * What a renamed view's missing tensor would be called in the file. Layout converters rename modules and keep
     * what lies below a renamed module as it is, so the closest present relative whose file name ends with the
     * same relative path tells the missing tensor's module in the file: {@code x.bias} present as {@code y.bias}
     * makes a missing {@code x.weight} {@code y.weight}. At the top level only a view that just adds a prefix
     * to every name counts. Empty when nothing close enough is present.
     */
    static Optional<String> likelyOriginalName(RenamedWeights view, String canonical) {
        String module = canonical;
        for (int dot = module.lastIndexOf('.'); dot > 0; dot = module.lastIndexOf('.')) {
            module = module.substring(0, dot);
            String prefix = module + ".";
            for (String relative : view.names()) {
                if (!relative.startsWith(prefix)) continue;
                String below = relative.substring(prefix.length());
                String original = view.originalName(relative);
                if (original.endsWith("." + below)) {
                    String guess = original.substring(0, original.length() - below.length()) + canonical.substring(prefix.length());
                    return view.base().contains(guess) ? Optional.empty() : Optional.of(guess);
                }
            }
        }
        String commonPrefix = null;
        for (String name : view.names()) {
            String original = view.originalName(name);
            if (!original.endsWith(name)) return Optional.empty();
            String prefix = original.substring(0, original.length() - name.length());
            if (commonPrefix == null) commonPrefix = prefix;
            else if (!commonPrefix.equals(prefix)) return Optional.empty();
        }
        if (commonPrefix == null || commonPrefix.isEmpty() || view.base().contains(commonPrefix + canonical)) return Optional.empty();
        return Optional.of(commonPrefix + canonical);
    }

    /** The file (or folder) the weights come from, without the description of a renamed view. */
    private static String fileOf(WeightSource weights) {
        if (weights instanceof RenamedWeights view) return view.base().location();
        if (weights instanceof DerivedWeights view) return view.base().location();
        return weights.location();
    }
}
