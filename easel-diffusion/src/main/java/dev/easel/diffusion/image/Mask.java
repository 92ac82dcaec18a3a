package dev.easel.diffusion.image;

/**
 * Which pixels an edit may repaint: height x width values, 1 = repaint, 0 = keep
 * (the diffusers convention; OpenAI's RGBA masks are converted by {@link ImageCodec}).
 */
public record Mask(int width, int height, float[] values) {
    public Mask {
        if (values.length != width * height) {
            throw new IllegalArgumentException("a mask of " + width + "x" + height + " needs " + width * height + " values");
        }
    }

    public float get(int y, int x) {
        return values[y * width + x];
    }
}
