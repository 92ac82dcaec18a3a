package dev.easel.diffusion.image;

import dev.easel.engine.tensor.FloatTensor;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.awt.image.DataBufferByte;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** PNG in and out, and the conversions between images and the tensors the models see. */
public final class ImageCodec {
    private ImageCodec() {
    }

    /** 8-bit value of a [0, 1] float as the reference does: round(x * 255). */
    public static int toByte(float v) {
        return (int) Math.rint(Math.clamp(v, 0f, 1f) * 255f);
    }

    /** 8-bit RGB as the reference writes it ({@link #toByte}), for every encoder (PNG here, JPEG/WebP in the server). */
    public static BufferedImage toBufferedImage(RgbImage image) {
        BufferedImage out = new BufferedImage(image.width(), image.height(), BufferedImage.TYPE_3BYTE_BGR);
        byte[] bgr = ((DataBufferByte) out.getRaster().getDataBuffer()).getData();
        float[] rgb = image.pixels();
        for (int i = 0; i < rgb.length; i += 3) {
            bgr[i] = (byte) toByte(rgb[i + 2]);
            bgr[i + 1] = (byte) toByte(rgb[i + 1]);
            bgr[i + 2] = (byte) toByte(rgb[i]);
        }
        return out;
    }

    public static byte[] png(RgbImage image) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try {
            ImageIO.write(toBufferedImage(image), "png", bytes);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return bytes.toByteArray();
    }

    public static void writePng(RgbImage image, Path file) {
        try {
            Files.write(file, png(image));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + file, e);
        }
    }

    /** Reads an image file (PNG, JPEG, ...) as RGB; alpha is dropped. */
    public static RgbImage read(Path file) {
        try (InputStream in = Files.newInputStream(file)) {
            BufferedImage img = ImageIO.read(in);
            if (img == null) throw new IllegalArgumentException(file + " is not an image this program can read (PNG, JPEG, BMP, GIF)");
            return fromBufferedImage(img);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + file, e);
        }
    }

    public static RgbImage fromBufferedImage(BufferedImage img) {
        int w = img.getWidth();
        int h = img.getHeight();
        float[] px = new float[w * h * 3];
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                int rgb = img.getRGB(x, y);
                int at = (y * w + x) * 3;
                px[at] = ((rgb >> 16) & 0xff) / 255f;
                px[at + 1] = ((rgb >> 8) & 0xff) / 255f;
                px[at + 2] = (rgb & 0xff) / 255f;
            }
        }
        return new RgbImage(w, h, px);
    }

    /**
     * A grayscale mask file (white = repaint), binarised at 0.5 as diffusers does. Colour files are
     * reduced to luminance first.
     */
    public static Mask readMask(Path file) {
        RgbImage img = read(file);
        float[] v = new float[img.width() * img.height()];
        for (int y = 0; y < img.height(); y++) {
            for (int x = 0; x < img.width(); x++) {
                // PIL's "L" conversion: L = (299 R + 587 G + 114 B) / 1000 on 8-bit values.
                float l = (299f * toByte(img.get(y, x, 0)) + 587f * toByte(img.get(y, x, 1)) + 114f * toByte(img.get(y, x, 2))) / 1000f;
                v[y * img.width() + x] = l / 255f >= 0.5f ? 1f : 0f;
            }
        }
        return new Mask(img.width(), img.height(), v);
    }

    /** Image to a (1, 3, H, W) tensor in [-1, 1] (the VAE encoder's input). */
    public static FloatTensor toModelInput(RgbImage image) {
        int plane = image.width() * image.height();
        float[] out = new float[3 * plane];
        for (int i = 0; i < plane; i++) {
            for (int c = 0; c < 3; c++) out[c * plane + i] = image.pixels()[i * 3 + c] * 2f - 1f;
        }
        return new FloatTensor(new long[]{1, 3, image.height(), image.width()}, out);
    }

    /** Row {@code index} of a decoder output (B, 3, H, W) to an image: clamp(x / 2 + 0.5, 0, 1). */
    public static RgbImage fromDecoderOutput(FloatTensor decoded, int index) {
        int h = (int) decoded.dim(2);
        int w = (int) decoded.dim(3);
        int plane = h * w;
        int base = index * 3 * plane;
        float[] px = new float[3 * plane];
        for (int i = 0; i < plane; i++) {
            for (int c = 0; c < 3; c++) px[i * 3 + c] = Math.clamp(decoded.data()[base + c * plane + i] / 2f + 0.5f, 0f, 1f);
        }
        return new RgbImage(w, h, px);
    }
}
