package dev.easel.server.image;

import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.Locale;

/**
 * Turns what a client sent as an image into the encoded image bytes: a file part holding the image
 * itself (whatever its filename and content type say), or base64 / {@code data:image/...;base64,} text
 * in a text field, a JSON string, or inside a file part.
 */
public final class ImageInput {

    private ImageInput() {
    }

    /** The contents of a file part. */
    public static byte[] fromPart(String param, byte[] content) {
        if (ImageFormat.sniff(content).isPresent()) return content;
        if (content.length == 0) throw new ImageRejectedException(param, "the " + param + " part is empty");
        if (looksLikeText(content)) return fromText(param, new String(content, StandardCharsets.US_ASCII));
        throw notAnImage(param);
    }

    /** A base64 string or a data URL. */
    public static byte[] fromText(String param, String text) {
        String s = text.strip();
        if (s.isEmpty()) throw new ImageRejectedException(param, "'" + param + "' is empty");
        String lower = s.length() > 16 ? s.substring(0, 16).toLowerCase(Locale.ROOT) : s.toLowerCase(Locale.ROOT);
        if (lower.startsWith("http://") || lower.startsWith("https://")) {
            throw new ImageRejectedException(param, "image URLs are not fetched by this server: send '" + param
                    + "' as a file, as base64 or as a data:image/...;base64, URL");
        }
        String payload = s;
        if (lower.startsWith("data:")) {
            int comma = s.indexOf(',');
            if (comma < 0) throw new ImageRejectedException(param, "'" + param + "' is a data URL without data");
            String meta = s.substring(5, comma).toLowerCase(Locale.ROOT);
            if (!meta.endsWith(";base64")) {
                throw new ImageRejectedException(param, "'" + param + "' must be a base64 data URL (data:image/png;base64,...)");
            }
            payload = s.substring(comma + 1);
        }
        byte[] bytes;
        try {
            bytes = decodeBase64(payload);
        } catch (IllegalArgumentException e) {
            throw notAnImage(param);
        }
        if (ImageFormat.sniff(bytes).isEmpty()) throw notAnImage(param);
        return bytes;
    }

    private static byte[] decodeBase64(String payload) {
        boolean urlSafe = payload.indexOf('-') >= 0 || payload.indexOf('_') >= 0;
        if (urlSafe) {
            return Base64.getUrlDecoder().decode(payload.replaceAll("\\s+", ""));
        }
        return Base64.getMimeDecoder().decode(payload);
    }

    private static boolean looksLikeText(byte[] content) {
        int n = Math.min(content.length, 256);
        for (int i = 0; i < n; i++) {
            int c = content[i] & 0xff;
            if (c >= 0x80 || (c < 0x20 && c != '\n' && c != '\r' && c != '\t')) return false;
        }
        return true;
    }

    static ImageRejectedException notAnImage(String param) {
        return new ImageRejectedException(param, "'" + param + "' is not a PNG, JPEG or WebP image");
    }
}
