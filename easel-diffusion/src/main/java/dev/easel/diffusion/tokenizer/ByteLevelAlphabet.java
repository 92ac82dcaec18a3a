package dev.easel.diffusion.tokenizer;

/**
 * The byte-level alphabet of CLIP's (and GPT-2's) BPE: each of the 256 byte values is written as one
 * printable character, so that vocabulary entries are plain strings with no spaces or control
 * characters in them.
 *
 * <p>The 188 printable Latin-1 bytes ({@code '!'..'~'}, {@code '¡'..'¬'}, {@code '®'..'ÿ'}) stand for
 * themselves; the other 68 (controls, space, DEL, no-break space, soft hyphen) take U+0100, U+0101, ...
 * in increasing byte order. A vocabulary entry such as {@code "cafÃ©</w>"} is therefore the UTF-8
 * bytes of "café" followed by the end-of-word marker.
 */
final class ByteLevelAlphabet {
    private static final char[] CHAR_OF_BYTE = build();

    private ByteLevelAlphabet() {
    }

    /** The character that stands for {@code unsignedByte} (0..255). */
    static char charOf(int unsignedByte) {
        return CHAR_OF_BYTE[unsignedByte];
    }

    private static char[] build() {
        char[] chars = new char[256];
        char next = 256;
        for (int b = 0; b < 256; b++) {
            chars[b] = standsForItself(b) ? (char) b : next++;
        }
        return chars;
    }

    private static boolean standsForItself(int b) {
        return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
    }
}
