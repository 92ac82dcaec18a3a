package dev.easel.server.image;

import dev.easel.diffusion.image.Mask;
import dev.easel.diffusion.image.RgbImage;

/**
 * A decoded input image: packed ARGB pixels (non-premultiplied), as {@link java.awt.image.BufferedImage#getRGB}
 * gives them for every color model.
 */
public record DecodedImage(ImageFormat format, int width, int height, int[] argb, boolean hasAlpha) {

    /**
     * The image as the pipelines take it, resized to {@code width x height} (antialiased), with any
     * transparent area composited over white.
     */
    public RgbImage toRgb(int targetWidth, int targetHeight) {
        float[] rgba = Resampler.resizeArgb(argb, width, height, targetWidth, targetHeight);
        float[] rgb = new float[targetWidth * targetHeight * 3];
        for (int p = 0, q = 0; p < rgba.length; p += 4, q += 3) {
            float a = rgba[p + 3];
            rgb[q] = rgba[p] * a + (1 - a);
            rgb[q + 1] = rgba[p + 1] * a + (1 - a);
            rgb[q + 2] = rgba[p + 2] * a + (1 - a);
        }
        return new RgbImage(targetWidth, targetHeight, rgb);
    }

    /**
     * OpenAI's mask convention to the pipelines' one: the fully transparent pixels (alpha = 0) are the
     * area to repaint (1), every other pixel is kept (0). Resized to the target size, a pixel is repainted
     * when most of the area it covers was transparent.
     */
    public Mask toOpenAiMask(int targetWidth, int targetHeight) {
        float[] values = new float[targetWidth * targetHeight];
        if (targetWidth == width && targetHeight == height) {
            for (int i = 0; i < values.length; i++) values[i] = (argb[i] >>> 24) == 0 ? 1f : 0f;
        } else {
            int[] indicator = new int[argb.length];
            for (int i = 0; i < argb.length; i++) indicator[i] = (argb[i] >>> 24) == 0 ? 0xffffffff : 0xff000000;
            float[] resized = Resampler.resizeArgb(indicator, width, height, targetWidth, targetHeight);
            for (int i = 0; i < values.length; i++) values[i] = resized[i * 4] >= 0.5f ? 1f : 0f;
        }
        return new Mask(targetWidth, targetHeight, values);
    }
}
