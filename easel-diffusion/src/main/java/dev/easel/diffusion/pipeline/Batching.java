package dev.easel.diffusion.pipeline;

import dev.easel.engine.tensor.FloatTensor;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Batch helpers for [negative x n, prompt x n] layouts. */
public final class Batching {
    private Batching() {
    }

    /** Each row of a batch-1 tensor repeated n times. */
    public static FloatTensor repeat(FloatTensor row, int n) {
        FloatTensor[] copies = new FloatTensor[n];
        java.util.Arrays.fill(copies, row);
        return FloatTensor.concat(copies);
    }

    /** [negative x n, prompt x n] with guidance, [prompt x n] without. */
    public static FloatTensor guidanceBatch(FloatTensor negative, FloatTensor prompt, int n, boolean guidance) {
        return guidance ? FloatTensor.concat(repeat(negative, n), repeat(prompt, n)) : repeat(prompt, n);
    }

    /** uncond + scale * (cond - uncond), with the batch's first half unconditional. */
    public static FloatTensor applyGuidance(FloatTensor output, float scale) {
        int half = output.size() / 2;
        float[] d = output.data();
        float[] out = new float[half];
        for (int i = 0; i < half; i++) out[i] = d[i] + scale * (d[half + i] - d[i]);
        long[] shape = output.shape().clone();
        shape[0] /= 2;
        return new FloatTensor(shape, out);
    }

    /**
     * The conditioning of several requests run as one batch, from each request's own conditioning
     * ([negative x n_i, prompt x n_i] with guidance, [prompt x n_i] without): with guidance
     * [negatives of every request, then prompts of every request], so that the batch's first half is still
     * the unconditional one ({@link #applyGuidance}) and row r of each half is image r of the batch; without,
     * the requests' rows one after the other. Every input must have the batch on its first axis.
     */
    public static Map<String, FloatTensor> mergeRequests(List<Map<String, FloatTensor>> perRequest, boolean guidance) {
        if (perRequest.size() == 1) return perRequest.getFirst();
        Map<String, FloatTensor> merged = new LinkedHashMap<>();
        for (String name : perRequest.getFirst().keySet()) {
            List<FloatTensor> unconditional = new ArrayList<>();
            List<FloatTensor> conditional = new ArrayList<>();
            for (Map<String, FloatTensor> one : perRequest) {
                FloatTensor t = one.get(name);
                if (t == null) throw new IllegalArgumentException("conditioning input '" + name + "' is missing for a request");
                int n = (int) t.dim(0);
                if (guidance) {
                    unconditional.add(t.rows(0, n / 2));
                    conditional.add(t.rows(n / 2, n));
                } else {
                    conditional.add(t);
                }
            }
            unconditional.addAll(conditional);
            merged.put(name, FloatTensor.concat(unconditional.toArray(FloatTensor[]::new)));
        }
        return merged;
    }
}
