package dev.easel.diffusion.pipeline;

import dev.easel.diffusion.image.RgbImage;
import dev.easel.engine.tensor.FloatTensor;

/**
 * Cheap previews of latents for streaming partial images: a fixed linear map from the 4 SD latent
 * channels to RGB (the widely used approximation of the SD VAE), upscaled 8x by repetition, so no
 * decoder call is needed. Other channel counts show the first three channels normalised.
 */
public final class LatentPreview {
    // Rows: latent channel; columns: R, G, B. Approximates the SD 1.x/SDXL VAE decoder's mean colour.
    private static final float[][] SD_FACTORS = {
            {0.298f, 0.207f, 0.208f},
            {0.187f, 0.286f, 0.173f},
            {-0.158f, 0.189f, 0.264f},
            {-0.184f, -0.271f, -0.473f},
    };
    private static final int SCALE = 8;

    private LatentPreview() {
    }

    public static RgbImage approximate(FloatTensor latents, int index) {
        int c = (int) latents.dim(1);
        int h = (int) latents.dim(2);
        int w = (int) latents.dim(3);
        int plane = h * w;
        int base = index * c * plane;
        float[] small = new float[plane * 3];
        for (int i = 0; i < plane; i++) {
            for (int rgb = 0; rgb < 3; rgb++) {
                float v;
                if (c == 4) {
                    v = 0f;
                    for (int ch = 0; ch < 4; ch++) v += latents.data()[base + ch * plane + i] * SD_FACTORS[ch][rgb];
                } else {
                    v = latents.data()[base + Math.min(rgb, c - 1) * plane + i] * 0.25f;
                }
                small[i * 3 + rgb] = Math.clamp((v + 1f) / 2f, 0f, 1f);
            }
        }
        float[] px = new float[plane * SCALE * SCALE * 3];
        int bigW = w * SCALE;
        for (int y = 0; y < h * SCALE; y++) {
            for (int x = 0; x < bigW; x++) {
                System.arraycopy(small, ((y / SCALE) * w + x / SCALE) * 3, px, (y * bigW + x) * 3, 3);
            }
        }
        return new RgbImage(bigW, h * SCALE, px);
    }
}
