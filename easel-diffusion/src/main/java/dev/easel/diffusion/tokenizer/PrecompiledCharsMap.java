package dev.easel.diffusion.tokenizer;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * SentencePiece's precompiled normalisation rules (the model's {@code precompiled_charsmap}, e.g. T5's
 * {@code nmt_nfkc}: NFKC plus dropping control and zero-width characters and mapping odd spaces to a
 * plain space). The blob is a little-endian uint32 byte size of a double-array trie, that trie
 * ({@link DoubleArrayTrie}), then the replacement strings, each UTF-8 and NUL-terminated. The trie maps
 * a UTF-8 input sequence to the offset of its replacement; where several rules match, the longest wins.
 */
final class PrecompiledCharsMap {
    /** SentencePiece looks at no more than this many prefix matches at one position. */
    private static final int MAX_MATCHES = 32;

    private final DoubleArrayTrie trie;
    private final byte[] replacements;

    private PrecompiledCharsMap(DoubleArrayTrie trie, byte[] replacements) {
        this.trie = trie;
        this.replacements = replacements;
    }

    static PrecompiledCharsMap decode(byte[] blob) {
        if (blob.length <= 4) throw new IllegalArgumentException("precompiled charsmap is too short (" + blob.length + " bytes)");
        ByteBuffer buffer = ByteBuffer.wrap(blob).order(ByteOrder.LITTLE_ENDIAN);
        long trieBytes = Integer.toUnsignedLong(buffer.getInt());
        // The trie is a whole number of 256-unit blocks (1024 bytes) and leaves room for the strings.
        if (trieBytes < 1024 || trieBytes % 1024 != 0 || trieBytes >= blob.length - 4) {
            throw new IllegalArgumentException("precompiled charsmap: bad trie size " + trieBytes + " in a blob of " + blob.length + " bytes");
        }
        int[] units = new int[(int) (trieBytes / 4)];
        buffer.asIntBuffer().get(units);
        byte[] replacements = new byte[blob.length - 4 - (int) trieBytes];
        buffer.position(4 + (int) trieBytes).get(replacements);
        if (replacements[replacements.length - 1] != 0) {
            throw new IllegalArgumentException("precompiled charsmap: replacement strings are not NUL-terminated");
        }
        return new PrecompiledCharsMap(new DoubleArrayTrie(units), replacements);
    }

    /**
     * The rule for the start of {@code input[from..to)}: {@code consumed << 32 | replacementOffset}, or -1
     * where no rule matches (or the rule points outside the strings, which SentencePiece also ignores).
     */
    long match(byte[] input, int from, int to) {
        long found = trie.longestPrefix(input, from, to, MAX_MATCHES);
        if (found < 0 || (found & 0xffffffffL) >= replacements.length) return -1;
        return found;
    }

    /** The replacement strings; a rule's replacement runs from its offset to the next NUL. */
    byte[] replacements() {
        return replacements;
    }
}
