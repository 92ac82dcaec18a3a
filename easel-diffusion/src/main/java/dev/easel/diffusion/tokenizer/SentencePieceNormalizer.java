package dev.easel.diffusion.tokenizer;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;

/**
 * SentencePiece's text normalisation, on UTF-8 bytes as SentencePiece does it:
 * <ol>
 *   <li>From the left, each position is rewritten by the longest rule of the precompiled charsmap
 *       ({@link PrecompiledCharsMap}) that matches there; without a rule one character is copied as is.
 *       User-defined pieces are copied untouched.</li>
 *   <li>With {@code remove_extra_whitespaces}: leading text that normalises to a plain space is skipped,
 *       a space never follows another space, and trailing spaces are dropped (so a blank text becomes
 *       empty).</li>
 *   <li>With {@code add_dummy_prefix}: a space is put in front, so that a first word is cut like any
 *       other; with {@code escape_whitespaces} every space becomes {@code ▁} (U+2581).</li>
 * </ol>
 */
final class SentencePieceNormalizer {
    static final String SPACE_SYMBOL = "\u2581";
    private static final byte SPACE = ' ';
    private static final byte[] SPACE_SYMBOL_BYTES = SPACE_SYMBOL.getBytes(StandardCharsets.UTF_8);

    private final PrecompiledCharsMap charsMap;
    private final List<byte[]> userDefined;
    private final boolean addDummyPrefix;
    private final boolean removeExtraWhitespaces;
    private final byte[] whitespace;

    /**
     * @param charsMap    the rules, or null for none (identity)
     * @param userDefined the user-defined pieces, which pass through unnormalised
     */
    SentencePieceNormalizer(PrecompiledCharsMap charsMap, List<String> userDefined, boolean addDummyPrefix,
                            boolean removeExtraWhitespaces, boolean escapeWhitespaces) {
        this.charsMap = charsMap;
        this.userDefined = userDefined.stream().map(s -> s.getBytes(StandardCharsets.UTF_8)).toList();
        this.addDummyPrefix = addDummyPrefix;
        this.removeExtraWhitespaces = removeExtraWhitespaces;
        this.whitespace = escapeWhitespaces ? SPACE_SYMBOL_BYTES : new byte[]{SPACE};
    }

    String normalize(String text) {
        byte[] input = text.getBytes(StandardCharsets.UTF_8);
        int pos = 0;
        if (removeExtraWhitespaces) {
            while (pos < input.length) {
                Prefix p = normalizePrefix(input, pos);
                if (p.length != 1 || p.bytes[p.offset] != SPACE) break;
                pos += p.consumed;
            }
        }
        if (pos == input.length) return "";

        ByteBuilder out = new ByteBuilder(input.length * 3 / 2 + 4);
        if (addDummyPrefix) out.append(whitespace);
        boolean prevSpace = removeExtraWhitespaces;
        while (pos < input.length) {
            Prefix p = normalizePrefix(input, pos);
            int start = p.offset;
            int end = p.offset + p.length;
            while (prevSpace && start < end && p.bytes[start] == SPACE) start++;
            if (start < end) {
                for (int i = start; i < end; i++) {
                    if (p.bytes[i] == SPACE) out.append(whitespace);
                    else out.append(p.bytes[i]);
                }
                prevSpace = p.bytes[end - 1] == SPACE;
            }
            pos += p.consumed;
            if (!removeExtraWhitespaces) prevSpace = false;
        }
        if (removeExtraWhitespaces) {
            while (out.endsWith(whitespace)) out.shrink(whitespace.length);
        }
        return out.toUtf8String();
    }

    /** What the start of {@code input[pos..)} becomes: a slice of {@code bytes}, and how many input bytes it takes. */
    private record Prefix(byte[] bytes, int offset, int length, int consumed) {
    }

    private Prefix normalizePrefix(byte[] input, int pos) {
        int userLength = longestUserDefined(input, pos);
        if (userLength > 0) return new Prefix(input, pos, userLength, userLength);
        if (charsMap != null) {
            long rule = charsMap.match(input, pos, input.length);
            if (rule >= 0) {
                byte[] strings = charsMap.replacements();
                int offset = (int) rule;
                int end = offset;
                while (strings[end] != 0) end++;
                return new Prefix(strings, offset, end - offset, (int) (rule >>> 32));
            }
        }
        // Java's encoder writes only well-formed UTF-8, so the lead byte gives the character's length.
        int length = Math.min(utf8Length(input[pos]), input.length - pos);
        return new Prefix(input, pos, length, length);
    }

    private int longestUserDefined(byte[] input, int pos) {
        int longest = 0;
        for (byte[] piece : userDefined) {
            if (piece.length > longest && pos + piece.length <= input.length
                    && Arrays.equals(input, pos, pos + piece.length, piece, 0, piece.length)) {
                longest = piece.length;
            }
        }
        return longest;
    }

    static int utf8Length(byte lead) {
        int b = lead & 0xff;
        if (b < 0xc0) return 1;
        if (b < 0xe0) return 2;
        if (b < 0xf0) return 3;
        return 4;
    }

    /** A growable byte array. */
    private static final class ByteBuilder {
        private byte[] bytes;
        private int size;

        ByteBuilder(int capacity) {
            bytes = new byte[Math.max(capacity, 16)];
        }

        void append(byte b) {
            if (size == bytes.length) bytes = Arrays.copyOf(bytes, size * 2);
            bytes[size++] = b;
        }

        void append(byte[] more) {
            for (byte b : more) append(b);
        }

        boolean endsWith(byte[] suffix) {
            return size >= suffix.length && Arrays.equals(bytes, size - suffix.length, size, suffix, 0, suffix.length);
        }

        void shrink(int n) {
            size -= n;
        }

        String toUtf8String() {
            return new String(bytes, 0, size, StandardCharsets.UTF_8);
        }
    }
}
