package dev.easel.engine.io;

import dev.easel.engine.tensor.FloatTensor;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Reads NumPy {@code .npy} files (format 1.x/2.x, C order, little-endian): the reference fixtures are
 * stored this way.
 */
public final class Npy {
    private static final byte[] MAGIC = {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y'};
    private static final Pattern DESCR = Pattern.compile("'descr':\\s*'([^']+)'");
    private static final Pattern FORTRAN = Pattern.compile("'fortran_order':\\s*(True|False)");
    private static final Pattern SHAPE = Pattern.compile("'shape':\\s*\\(([^)]*)\\)");

    private Npy() {
    }

    /** An array as read: its dtype descriptor (e.g. {@code <f4}), shape and raw little-endian bytes. */
    public record Array(String dtype, long[] shape, ByteBuffer bytes) {
        public FloatTensor toFloatTensor() {
            int n = Math.toIntExact(FloatTensor.elementCount(shape));
            float[] out = new float[n];
            switch (dtype) {
                case "<f4" -> bytes.asFloatBuffer().get(out);
                case "<f8" -> { for (int i = 0; i < n; i++) out[i] = (float) bytes.getDouble(i * 8); }
                case "<i8" -> { for (int i = 0; i < n; i++) out[i] = bytes.getLong(i * 8); }
                case "<i4" -> { for (int i = 0; i < n; i++) out[i] = bytes.getInt(i * 4); }
                case "|u1" -> { for (int i = 0; i < n; i++) out[i] = bytes.get(i) & 0xff; }
                case "|b1" -> { for (int i = 0; i < n; i++) out[i] = bytes.get(i) != 0 ? 1f : 0f; }
                default -> throw new IllegalArgumentException("unsupported npy dtype " + dtype);
            }
            return new FloatTensor(shape, out);
        }

        public long[] toLongs() {
            int n = Math.toIntExact(FloatTensor.elementCount(shape));
            long[] out = new long[n];
            switch (dtype) {
                case "<i8" -> bytes.asLongBuffer().get(out);
                case "<i4" -> { for (int i = 0; i < n; i++) out[i] = bytes.getInt(i * 4); }
                default -> throw new IllegalArgumentException("not an integer npy array: " + dtype);
            }
            return out;
        }
    }

    public static Array read(Path file) {
        try {
            return parse(ByteBuffer.wrap(Files.readAllBytes(file)), file.toString());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + file, e);
        }
    }

    public static FloatTensor readFloat(Path file) {
        return read(file).toFloatTensor();
    }

    static Array parse(ByteBuffer buf, String what) {
        buf.order(ByteOrder.LITTLE_ENDIAN);
        for (byte b : MAGIC) {
            if (buf.get() != b) throw new IllegalArgumentException(what + ": not a .npy file");
        }
        int major = buf.get();
        buf.get();
        int headerLength = major == 1 ? Short.toUnsignedInt(buf.getShort()) : buf.getInt();
        byte[] header = new byte[headerLength];
        buf.get(header);
        String text = new String(header, StandardCharsets.ISO_8859_1);
        String dtype = group(DESCR, text, what);
        if (group(FORTRAN, text, what).equals("True")) {
            throw new IllegalArgumentException(what + ": Fortran-ordered arrays are not supported");
        }
        List<Long> dims = new ArrayList<>();
        for (String part : group(SHAPE, text, what).split(",")) {
            if (!part.isBlank()) dims.add(Long.parseLong(part.trim()));
        }
        long[] shape = dims.stream().mapToLong(Long::longValue).toArray();
        ByteBuffer data = buf.slice().order(ByteOrder.LITTLE_ENDIAN);
        return new Array(dtype, shape, data);
    }

    private static String group(Pattern p, String text, String what) {
        Matcher m = p.matcher(text);
        if (!m.find()) throw new IllegalArgumentException(what + ": malformed npy header " + text.trim());
        return m.group(1);
    }
}
