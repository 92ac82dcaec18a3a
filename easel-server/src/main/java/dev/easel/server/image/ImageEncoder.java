package dev.easel.server.image;

import dev.easel.diffusion.image.ImageCodec;
import dev.easel.diffusion.image.RgbImage;

import javax.imageio.IIOImage;
import javax.imageio.ImageIO;
import javax.imageio.ImageWriteParam;
import javax.imageio.ImageWriter;
import javax.imageio.stream.ImageOutputStream;
import java.awt.image.BufferedImage;
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
        BufferedImage buffered = ImageCodec.toBufferedImage(image);
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
}
