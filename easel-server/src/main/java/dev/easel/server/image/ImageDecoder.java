package dev.easel.server.image;

import javax.imageio.ImageIO;
import javax.imageio.ImageReader;
import javax.imageio.stream.ImageInputStream;
import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.util.Iterator;

/**
 * Decodes client images within bounds: the size is read from the header first and an image above
 * {@code maxSide} per side or {@code maxPixels} in all is refused without decoding a pixel (a 10k x 10k
 * PNG, or a few-kilobyte decompression bomb that declares 50k x 50k). Metadata chunks are skipped.
 */
public final class ImageDecoder {
    private final int maxSide;
    private final long maxPixels;

    public ImageDecoder(int maxSide, long maxPixels) {
        this.maxSide = maxSide;
        this.maxPixels = maxPixels;
    }

    public ImageHeader checkHeader(String param, byte[] bytes) {
        ImageHeader header = ImageHeader.read(bytes).orElseThrow(() -> ImageInput.notAnImage(param));
        if (header.width() > maxSide || header.height() > maxSide || header.pixels() > maxPixels) {
            throw new ImageRejectedException(param, "'" + param + "' is " + header.width() + "x" + header.height()
                    + "; images may be at most " + maxSide + " pixels per side and " + maxPixels + " pixels in all");
        }
        return header;
    }

    public DecodedImage decode(String param, byte[] bytes) {
        ImageHeader header = checkHeader(param, bytes);
        BufferedImage image;
        try (ImageInputStream in = ImageIO.createImageInputStream(new ByteArrayInputStream(bytes))) {
            Iterator<ImageReader> readers = ImageIO.getImageReadersByFormatName(header.format().id());
            if (!readers.hasNext()) {
                throw new ImageRejectedException(param, header.format().id() + " images cannot be read by this server");
            }
            ImageReader reader = readers.next();
            try {
                reader.setInput(in, true, true);
                // the decoder's own idea of the size must agree with the header we checked
                if (reader.getWidth(0) != header.width() || reader.getHeight(0) != header.height()) {
                    throw new ImageRejectedException(param, "'" + param + "' has an inconsistent header");
                }
                image = reader.read(0);
            } finally {
                reader.dispose();
            }
        } catch (ImageRejectedException e) {
            throw e;
        } catch (IOException | RuntimeException e) {
            throw new ImageRejectedException(param, "'" + param + "' could not be decoded as " + header.format().id(), e);
        }
        int w = image.getWidth();
        int h = image.getHeight();
        int[] argb = image.getRGB(0, 0, w, h, null, 0, w);
        return new DecodedImage(header.format(), w, h, argb, image.getColorModel().hasAlpha());
    }
}
