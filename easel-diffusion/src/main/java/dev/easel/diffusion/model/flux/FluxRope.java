package dev.easel.diffusion.model.flux;

import dev.easel.engine.tensor.FloatTensor;

import java.util.Arrays;

/**
 * FLUX.1's rotary position embedding, as the two tables the graph multiplies by ({@link FluxTransformer}): each token
 * has one position per axis (text tokens (0, 0, 0), image tokens (0, row, column)), and axis a rotates its
 * {@code axesDims[a]} channels of every head in pairs (x[2i], x[2i+1]) by the angle position * theta^(-2i/dim).
 * Computed in float64 and rounded to float32, as diffusers does.
 *
 * @param cos         (tokens, headDim): cos of each pair's angle, repeated for both members of the pair
 * @param sinSigned   (tokens, headDim): -sin for the first member of a pair, +sin for the second, so that the rotation
 *                    is {@code x * cos + swapPairs(x) * sinSigned}
 */
public record FluxRope(FloatTensor cos, FloatTensor sinSigned) {

    /** The tables of the joint sequence: the text tokens first, then the image tokens. */
    public static FluxRope of(FluxConfig config, FloatTensor txtIds, FloatTensor imgIds) {
        float[] txt = positions(txtIds, config, "txt_ids");
        float[] img = positions(imgIds, config, "img_ids");
        int axes = config.axesDims().size();
        float[] ids = Arrays.copyOf(txt, txt.length + img.length);
        System.arraycopy(img, 0, ids, txt.length, img.length);
        int tokens = ids.length / axes;
        int dim = config.headDim();
        float[] cos = new float[tokens * dim];
        float[] sin = new float[tokens * dim];
        for (int t = 0; t < tokens; t++) {
            int channel = t * dim;
            for (int a = 0; a < axes; a++) {
                int axisDim = config.axesDims().get(a);
                double position = ids[t * axes + a];
                for (int i = 0; i < axisDim / 2; i++) {
                    double angle = position * (1.0 / Math.pow(config.theta(), (2.0 * i) / axisDim));
                    float c = (float) Math.cos(angle);
                    float s = (float) Math.sin(angle);
                    cos[channel] = c;
                    cos[channel + 1] = c;
                    sin[channel] = -s;
                    sin[channel + 1] = s;
                    channel += 2;
                }
            }
        }
        long[] shape = {tokens, dim};
        return new FluxRope(new FloatTensor(shape, cos), new FloatTensor(shape, sin));
    }

    /**
     * The ids as (tokens x axes) values. Ids with a batch axis (1, tokens, axes), as older pipelines pass them, give the
     * first entry's ids, as diffusers does.
     */
    private static float[] positions(FloatTensor ids, FluxConfig config, String what) {
        int axes = config.axesDims().size();
        if (ids.rank() == 3 && ids.dim(0) >= 1) {
            return positions(ids.slice(0).reshape(ids.dim(1), ids.dim(2)), config, what);
        }
        if (ids.rank() != 2 || ids.dim(1) != axes) {
            throw new IllegalArgumentException(what + " must be (tokens, " + axes + ") position ids, got shape "
                    + Arrays.toString(ids.shape()));
        }
        return ids.data();
    }
}
