package dev.easel.engine.runtime;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/** SHA-256 of text, of a file's byte range, and of samples spread over a large file. */
final class Checksums {
    /** Sampled blocks: enough to catch a zeroed, truncated or foreign stretch anywhere, few enough to read in milliseconds. */
    static final int SAMPLES = 64;
    static final int SAMPLE_BYTES = 64 * 1024;

    private Checksums() {
    }

    static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every JDK has SHA-256", e);
        }
    }

    static String sha256Hex(String text) {
        return HexFormat.of().formatHex(sha256().digest(text.getBytes(StandardCharsets.UTF_8)));
    }

    static String sha256Hex(byte[] bytes) {
        return HexFormat.of().formatHex(sha256().digest(bytes));
    }

    static byte[] sha256(FileChannel channel, long position, long length) throws IOException {
        MessageDigest digest = sha256();
        update(digest, channel, position, length);
        return digest.digest();
    }

    /**
     * SHA-256 of the whole file when it is small, else of {@link #SAMPLES} evenly spaced blocks and the last one,
     * with the file's size: a 10 GB file is checked by reading 4 MiB.
     */
    static String sampledSha256(FileChannel channel) throws IOException {
        long size = channel.size();
        MessageDigest digest = sha256();
        digest.update(ByteBuffer.allocate(Long.BYTES).putLong(0, size));
        if (size <= (long) (SAMPLES + 1) * SAMPLE_BYTES) {
            update(digest, channel, 0, size);
        } else {
            long stride = (size - SAMPLE_BYTES) / SAMPLES;
            for (int i = 0; i < SAMPLES; i++) update(digest, channel, i * stride, SAMPLE_BYTES);
            update(digest, channel, size - SAMPLE_BYTES, SAMPLE_BYTES);
        }
        return HexFormat.of().formatHex(digest.digest());
    }

    private static void update(MessageDigest digest, FileChannel channel, long position, long length) throws IOException {
        ByteBuffer buffer = ByteBuffer.allocate((int) Math.min(length, 1 << 20));
        long end = position + length;
        while (position < end) {
            buffer.clear().limit((int) Math.min(buffer.capacity(), end - position));
            int read = channel.read(buffer, position);
            if (read < 0) throw new IOException("unexpected end of file at byte " + position);
            position += read;
            digest.update(buffer.flip());
        }
    }
}
