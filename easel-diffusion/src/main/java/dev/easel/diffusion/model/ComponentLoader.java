package dev.easel.diffusion.model;

import dev.easel.engine.graph.GraphBuilder;
import dev.easel.engine.runtime.OnnxModel;
import dev.easel.engine.runtime.RuntimeOptions;
import dev.easel.engine.weights.WeightSource;
import dev.easel.engine.weights.WeightsException;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * Binds a model graph to a checkpoint's weights: every parameter the graph declares must be present
 * with the same shape, otherwise the error names each missing or mis-shaped tensor.
 */
public final class ComponentLoader {
    private ComponentLoader() {
    }

    public static OnnxModel load(String component, GraphBuilder graph, WeightSource weights, RuntimeOptions options) {
        validate(component, graph.weights(), weights);
        return OnnxModel.create(graph, weights::float32, options);
    }

    /** Checks the parameter list (name to shape) against the checkpoint. */
    public static void validate(String component, Map<String, long[]> parameters, WeightSource weights) {
        List<String> problems = new ArrayList<>();
        for (Map.Entry<String, long[]> p : parameters.entrySet()) {
            if (!weights.names().contains(p.getKey())) {
                problems.add("missing tensor " + p.getKey() + " " + Arrays.toString(p.getValue()));
            } else {
                long[] found = weights.info(p.getKey()).shape();
                if (!Arrays.equals(found, p.getValue())) {
                    problems.add("tensor " + p.getKey() + " has shape " + Arrays.toString(found)
                            + ", expected " + Arrays.toString(p.getValue()));
                }
            }
        }
        if (!problems.isEmpty()) {
            String shown = String.join("; ", problems.subList(0, Math.min(5, problems.size())));
            String more = problems.size() > 5 ? " (and " + (problems.size() - 5) + " more)" : "";
            throw new WeightsException(component + " weights do not fit the model: " + shown + more);
        }
    }
}
