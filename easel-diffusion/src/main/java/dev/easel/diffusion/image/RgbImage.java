package dev.easel.diffusion.image;

/**
 * An RGB image as the pipelines see it: height x width x 3 floats in [0, 1], row-major (HWC).
 * Decoding to and from PNG lives in {@link ImageCodec}.
 */
public record RgbImage(int width, int height, float[] pixels) {
    public RgbImage {
        if (width <= 0 || height <= 0) throw new IllegalArgumentException("image size must be positive: " + width + "x" + height);
        if (pixels.length != width * height * 3) {
            throw new IllegalArgumentException("an RGB image of " + width + "x" + height + " needs " + width * height * 3 + " values");
        }
    }

    public float get(int y, int x, int channel) {
        return pixels[(y * width + x) * 3 + channel];
    }
}
