package dev.easel.diffusion.tokenizer;

/**
 * A read-only double-array trie in the darts-clone layout, the format SentencePiece stores its
 * normalisation rules in (the first part of a precompiled charsmap). Keys are byte strings; each key
 * carries a non-negative int value.
 *
 * <p>Each 32-bit unit packs: bit 8 "has a leaf child", bit 9 an offset scale flag, bits 10-31 the
 * offset to the unit's children (shifted left by 8 when the scale flag is set), and the label byte in
 * bits 0-7 (leaf units set bit 31 instead, so no byte label ever matches them; their low 31 bits are
 * the value). A child for byte {@code b} of the unit at {@code p} sits at {@code p ^ offset(p) ^ b}; a
 * unit's value, if it has one, sits at {@code p ^ offset(p)}.
 */
final class DoubleArrayTrie {
    private static final int LEAF_FLAG = 1 << 8;
    private static final int VALUE_MASK = 0x7fffffff;
    private static final int LABEL_MASK = 0x800000ff;

    private final int[] units;

    DoubleArrayTrie(int[] units) {
        if (units.length == 0) throw new IllegalArgumentException("empty double array");
        this.units = units;
    }

    /**
     * The longest key that is a prefix of {@code key[from..to)}, among the first {@code maxMatches}
     * prefix matches found (shortest first), packed as {@code length << 32 | value}; -1 when no key is
     * a prefix there.
     */
    long longestPrefix(byte[] key, int from, int to, int maxMatches) {
        long best = -1;
        int matches = 0;
        int pos = offset(units[0]);
        for (int i = from; i < to; i++) {
            int label = key[i] & 0xff;
            pos ^= label;
            if (pos < 0 || pos >= units.length) return best;
            int unit = units[pos];
            if ((unit & LABEL_MASK) != label) return best;
            pos ^= offset(unit);
            if ((unit & LEAF_FLAG) != 0) {
                if (matches++ < maxMatches) {
                    if (pos < 0 || pos >= units.length) return best;
                    best = ((long) (i + 1 - from) << 32) | (units[pos] & VALUE_MASK);
                }
            }
        }
        return best;
    }

    private static int offset(int unit) {
        return (unit >>> 10) << ((unit & (1 << 9)) >>> 6);
    }
}
