package dev.easel.diffusion.pipeline;

import dev.easel.diffusion.image.RgbImage;
import dev.easel.engine.tensor.FloatTensor;

/**
 * FLUX.1's packing: latents {@code (n, c, h, w)} viewed as {@code (n, c, h/2, 2, w/2, 2)}, permuted to
 * {@code (n, h/2, w/2, c, 2, 2)} and flattened to {@code (n, h/2 * w/2, 4c)} tokens, row-major over the patches.
 */
record PatchPackedLatents(int channels) implements LatentFormat {
    private static final int PATCH = 2;

    @Override
    public long[] shape(int n, int width, int height) {
        return new long[]{n, channels, height / VAE_SCALE, width / VAE_SCALE};
    }

    @Override
    public FloatTensor toDenoiser(FloatTensor latents) {
        long[] shape = latents.shape();
        int tokens = (int) (shape[2] / PATCH * (shape[3] / PATCH));
        return new FloatTensor(new long[]{shape[0], tokens, (long) channels * PATCH * PATCH}, permute(latents.data(), shape, true));
    }

    @Override
    public FloatTensor fromDenoiser(FloatTensor output, long[] shape) {
        return new FloatTensor(shape.clone(), permute(output.data(), shape, false));
    }

    /** Moves every value between its place in the VAE's form ({@code shape}) and its place in the packed form. */
    private float[] permute(float[] in, long[] shape, boolean pack) {
        int n = (int) shape[0];
        int h = (int) shape[2];
        int w = (int) shape[3];
        int tokensW = w / PATCH;
        int tokenSize = channels * PATCH * PATCH;
        int tokens = (h / PATCH) * tokensW;
        float[] out = new float[in.length];
        for (int b = 0; b < n; b++) {
            for (int c = 0; c < channels; c++) {
                for (int y = 0; y < h; y++) {
                    for (int x = 0; x < w; x++) {
                        int token = (y / PATCH) * tokensW + x / PATCH;
                        int feature = (c * PATCH + y % PATCH) * PATCH + x % PATCH;
                        int packed = (b * tokens + token) * tokenSize + feature;
                        int spatial = ((b * channels + c) * h + y) * w + x;
                        if (pack) out[packed] = in[spatial];
                        else out[spatial] = in[packed];
                    }
                }
            }
        }
        return out;
    }

    @Override
    public int imageTokens(int width, int height) {
        return (width / (VAE_SCALE * PATCH)) * (height / (VAE_SCALE * PATCH));
    }

    @Override
    public RgbImage preview(FloatTensor latents, int index) {
        return LatentPreview.approximate(latents, index);
    }
}
