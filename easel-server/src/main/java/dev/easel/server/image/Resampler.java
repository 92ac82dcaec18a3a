package dev.easel.server.image;

/**
 * Separable resizing with a triangle (bilinear) filter whose support widens with the reduction factor,
 * so that shrinking averages the covered area instead of aliasing (as PIL's antialiased BILINEAR does).
 */
final class Resampler {

    private Resampler() {
    }

    /** {@code argb} (w x h packed ARGB) to {@code tw x th} RGBA floats in [0, 1]. */
    static float[] resizeArgb(int[] argb, int w, int h, int tw, int th) {
        if (tw == w && th == h) {
            float[] out = new float[w * h * 4];
            for (int i = 0; i < argb.length; i++) unpack(argb[i], out, i * 4, 1f);
            return out;
        }
        Weights wx = Weights.of(w, tw);
        Weights wy = Weights.of(h, th);
        // horizontal pass: h rows of tw RGBA pixels
        float[] rows = new float[h * tw * 4];
        float[] px = new float[4];
        for (int y = 0; y < h; y++) {
            int rowIn = y * w;
            int rowOut = y * tw * 4;
            for (int x = 0; x < tw; x++) {
                float r = 0, g = 0, b = 0, a = 0;
                for (int k = 0; k < wx.count[x]; k++) {
                    float weight = wx.weight[x][k];
                    unpack(argb[rowIn + wx.first[x] + k], px, 0, 1f);
                    r += px[0] * weight;
                    g += px[1] * weight;
                    b += px[2] * weight;
                    a += px[3] * weight;
                }
                int o = rowOut + x * 4;
                rows[o] = r;
                rows[o + 1] = g;
                rows[o + 2] = b;
                rows[o + 3] = a;
            }
        }
        // vertical pass
        float[] out = new float[tw * th * 4];
        int stride = tw * 4;
        for (int y = 0; y < th; y++) {
            int o = y * stride;
            for (int k = 0; k < wy.count[y]; k++) {
                float weight = wy.weight[y][k];
                int in = (wy.first[y] + k) * stride;
                for (int i = 0; i < stride; i++) out[o + i] += rows[in + i] * weight;
            }
        }
        for (int i = 0; i < out.length; i++) out[i] = Math.min(1f, Math.max(0f, out[i]));
        return out;
    }

    private static void unpack(int argb, float[] out, int at, float scale) {
        out[at] = ((argb >> 16) & 0xff) / 255f * scale;
        out[at + 1] = ((argb >> 8) & 0xff) / 255f * scale;
        out[at + 2] = (argb & 0xff) / 255f * scale;
        out[at + 3] = (argb >>> 24) / 255f * scale;
    }

    /** For each output index: the first input index and the normalized weights of the inputs it covers. */
    private record Weights(int[] first, int[] count, float[][] weight) {
        static Weights of(int in, int out) {
            double scale = (double) in / out;
            double support = Math.max(1.0, scale); // triangle half-width, in input pixels
            int[] first = new int[out];
            int[] count = new int[out];
            float[][] weight = new float[out][];
            for (int i = 0; i < out; i++) {
                double center = (i + 0.5) * scale;
                int lo = Math.max(0, (int) Math.floor(center - support));
                int hi = Math.min(in - 1, (int) Math.ceil(center + support));
                float[] wts = new float[hi - lo + 1];
                double sum = 0;
                for (int j = lo; j <= hi; j++) {
                    double d = Math.abs(j + 0.5 - center) / support;
                    double v = Math.max(0, 1 - d);
                    wts[j - lo] = (float) v;
                    sum += v;
                }
                if (sum == 0) { // degenerate: take the nearest pixel
                    int nearest = Math.min(in - 1, Math.max(0, (int) center));
                    lo = nearest;
                    wts = new float[]{1f};
                    sum = 1;
                }
                for (int k = 0; k < wts.length; k++) wts[k] /= (float) sum;
                first[i] = lo;
                count[i] = wts.length;
                weight[i] = wts;
            }
            return new Weights(first, count, weight);
        }
    }
}
