package dev.easel.server.image;

import dev.easel.diffusion.image.RgbImage;

import javax.imageio.IIOImage;
import javax.imageio.ImageIO;
import javax.imageio.ImageWriteParam;
import javax.imageio.ImageWriter;
import javax.imageio.stream.ImageOutputStream;
import java.awt.image.BufferedImage;
import java.awt.image.DataBufferByte;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.Iterator;

/**
 * Encodes generated images as PNG, JPEG or WebP ({@code output_format}). {@code compression} is OpenAI's
 * {@code output_compression} (0-100, higher = better quality) for JPEG and WebP; PNG is lossless.
 * WebP is written by the bundled libwebp of {@code com.github.usefulness:webp-imageio}.
 */
public final class ImageEncoder {

    private ImageEncoder() {
    }

    public static byte[] encode(RgbImage image, ImageFormat format, int compression) {
        BufferedImage buffered = toBuffered(image);
        Iterator<ImageWriter> writers = ImageIO.getImageWritersByMIMEType(format.mimeType());
        if (!writers.hasNext()) throw new IllegalStateException("no ImageIO writer for " + format.mimeType());
        ImageWriter writer = writers.next();
        ByteArrayOutputStream bytes = new ByteArrayOutputStream(image.width() * image.height());
        try (ImageOutputStream out = ImageIO.createImageOutputStream(bytes)) {
            writer.setOutput(out);
            ImageWriteParam param = writer.getDefaultWriteParam();
            if (format != ImageFormat.PNG && param.canWriteCompressed()) {
                param.setCompressionMode(ImageWriteParam.MODE_EXPLICIT);
                if (format == ImageFormat.WEBP) {
                    param.setCompressionType(compression >= 100 ? "Lossless" : "Lossy");
                }
                param.setCompressionQuality(Math.max(0, Math.min(100, compression)) / 100f);
            }
            writer.write(null, new IIOImage(buffered, null, null), param);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } finally {
            writer.dispose();
        }
        return bytes.toByteArray();
    }

    /** Floats in [0, 1] to 8-bit RGB, rounded and clamped. */
    static BufferedImage toBuffered(RgbImage image) {
        int w = image.width();
        int h = image.height();
        BufferedImage out = new BufferedImage(w, h, BufferedImage.TYPE_3BYTE_BGR);
        byte[] data = ((DataBufferByte) out.getRaster().getDataBuffer()).getData();
        float[] px = image.pixels();
        for (int i = 0, n = w * h; i < n; i++) {
            data[i * 3] = to8(px[i * 3 + 2]);
            data[i * 3 + 1] = to8(px[i * 3 + 1]);
            data[i * 3 + 2] = to8(px[i * 3]);
        }
        return out;
    }

    private static byte to8(float v) {
        float c = v != v ? 0f : Math.max(0f, Math.min(1f, v)); // NaN -> 0
        return (byte) Math.round(c * 255f);
    }
}
