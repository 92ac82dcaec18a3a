package dev.easel.server.image;

import java.util.Optional;

/**
 * Width and height read from an encoded image's header alone, so that oversized images and
 * decompression bombs are refused before any pixel is decoded.
 */
public record ImageHeader(ImageFormat format, int width, int height) {

    public long pixels() {
        return (long) width * height;
    }

    /** The header of a PNG, JPEG or WebP image, or empty when it cannot be read (then: not an image). */
    public static Optional<ImageHeader> read(byte[] b) {
        Optional<ImageFormat> format = ImageFormat.sniff(b);
        if (format.isEmpty()) return Optional.empty();
        return switch (format.get()) {
            case PNG -> png(b);
            case JPEG -> jpeg(b);
            case WEBP -> webp(b);
        };
    }

    private static Optional<ImageHeader> png(byte[] b) {
        // signature (8), then the first chunk must be IHDR: length (4), type (4), width (4), height (4)
        if (b.length < 24 || b[12] != 'I' || b[13] != 'H' || b[14] != 'D' || b[15] != 'R') return Optional.empty();
        long w = u32be(b, 16);
        long h = u32be(b, 20);
        return sized(ImageFormat.PNG, w, h);
    }

    private static Optional<ImageHeader> jpeg(byte[] b) {
        int i = 2;
        while (i + 4 <= b.length) {
            if ((b[i] & 0xff) != 0xff) return Optional.empty();
            int marker = b[i + 1] & 0xff;
            if (marker == 0xff) { // fill byte
                i++;
                continue;
            }
            if (marker == 0xd8 || marker == 0x01 || (marker >= 0xd0 && marker <= 0xd7)) { // no length
                i += 2;
                continue;
            }
            if (marker == 0xd9 || marker == 0xda) return Optional.empty(); // end of image / scan before any frame
            int length = u16be(b, i + 2);
            if (length < 2) return Optional.empty();
            boolean startOfFrame = marker >= 0xc0 && marker <= 0xcf && marker != 0xc4 && marker != 0xc8 && marker != 0xcc;
            if (startOfFrame) {
                if (i + 9 > b.length) return Optional.empty();
                int h = u16be(b, i + 5);
                int w = u16be(b, i + 7);
                return sized(ImageFormat.JPEG, w, h);
            }
            i += 2 + length;
        }
        return Optional.empty();
    }

    private static Optional<ImageHeader> webp(byte[] b) {
        if (b.length < 30) return Optional.empty();
        String chunk = new String(b, 12, 4, java.nio.charset.StandardCharsets.US_ASCII);
        switch (chunk) {
            case "VP8 " -> {
                // frame tag (3), start code 9d 01 2a, then 14-bit width and height (little endian)
                if ((b[23] & 0xff) != 0x9d || (b[24] & 0xff) != 0x01 || (b[25] & 0xff) != 0x2a) return Optional.empty();
                return sized(ImageFormat.WEBP, u16le(b, 26) & 0x3fff, u16le(b, 28) & 0x3fff);
            }
            case "VP8L" -> {
                if ((b[20] & 0xff) != 0x2f) return Optional.empty();
                long bits = (b[21] & 0xffL) | (b[22] & 0xffL) << 8 | (b[23] & 0xffL) << 16 | (b[24] & 0xffL) << 24;
                return sized(ImageFormat.WEBP, (bits & 0x3fff) + 1, ((bits >> 14) & 0x3fff) + 1);
            }
            case "VP8X" -> {
                long w = 1 + ((b[24] & 0xffL) | (b[25] & 0xffL) << 8 | (b[26] & 0xffL) << 16);
                long h = 1 + ((b[27] & 0xffL) | (b[28] & 0xffL) << 8 | (b[29] & 0xffL) << 16);
                return sized(ImageFormat.WEBP, w, h);
            }
            default -> {
                return Optional.empty();
            }
        }
    }

    private static Optional<ImageHeader> sized(ImageFormat f, long w, long h) {
        if (w <= 0 || h <= 0 || w > Integer.MAX_VALUE || h > Integer.MAX_VALUE) return Optional.empty();
        return Optional.of(new ImageHeader(f, (int) w, (int) h));
    }

    private static long u32be(byte[] b, int i) {
        return (b[i] & 0xffL) << 24 | (b[i + 1] & 0xffL) << 16 | (b[i + 2] & 0xffL) << 8 | (b[i + 3] & 0xffL);
    }

    private static int u16be(byte[] b, int i) {
        return (b[i] & 0xff) << 8 | (b[i + 1] & 0xff);
    }

    private static int u16le(byte[] b, int i) {
        return (b[i] & 0xff) | (b[i + 1] & 0xff) << 8;
    }
}
