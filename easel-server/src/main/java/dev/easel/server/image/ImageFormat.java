package dev.easel.server.image;

import java.util.Locale;
import java.util.Optional;

/** The formats clients send and receive, as OpenAI names them ({@code output_format}). */
public enum ImageFormat {
    PNG("png", "image/png"),
    JPEG("jpeg", "image/jpeg"),
    WEBP("webp", "image/webp");

    private final String id;
    private final String mimeType;

    ImageFormat(String id, String mimeType) {
        this.id = id;
        this.mimeType = mimeType;
    }

    public String id() {
        return id;
    }

    public String mimeType() {
        return mimeType;
    }

    /** {@code png}, {@code jpeg} (or {@code jpg}), {@code webp}. */
    public static Optional<ImageFormat> parse(String name) {
        if (name == null) return Optional.empty();
        String n = name.trim().toLowerCase(Locale.ROOT);
        if (n.equals("jpg")) return Optional.of(JPEG);
        for (ImageFormat f : values()) {
            if (f.id.equals(n)) return Optional.of(f);
        }
        return Optional.empty();
    }

    /** The format from the first bytes (magic numbers), whatever the client called the part. */
    public static Optional<ImageFormat> sniff(byte[] b) {
        if (b.length >= 8 && (b[0] & 0xff) == 0x89 && b[1] == 'P' && b[2] == 'N' && b[3] == 'G'
                && b[4] == 0x0d && b[5] == 0x0a && b[6] == 0x1a && b[7] == 0x0a) {
            return Optional.of(PNG);
        }
        if (b.length >= 3 && (b[0] & 0xff) == 0xff && (b[1] & 0xff) == 0xd8 && (b[2] & 0xff) == 0xff) {
            return Optional.of(JPEG);
        }
        if (b.length >= 12 && b[0] == 'R' && b[1] == 'I' && b[2] == 'F' && b[3] == 'F'
                && b[8] == 'W' && b[9] == 'E' && b[10] == 'B' && b[11] == 'P') {
            return Optional.of(WEBP);
        }
        return Optional.empty();
    }
}
