package dev.easel.diffusion.pipeline;

import dev.easel.engine.tensor.FloatTensor;

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
}
