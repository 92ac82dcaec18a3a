package dev.easel.diffusion.tokenizer;

import java.text.Normalizer;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The text clean-up that Hugging Face's slow {@code CLIPTokenizer} runs when the Python package
 * {@code ftfy} is not installed: its {@code BasicTokenizer(strip_accents=False, do_split_on_punc=False)},
 * which diffusers pipelines therefore use by default. In order:
 * <ol>
 *   <li>drop U+0000, U+FFFD and every "other" character (categories Cc, Cf, Cs, Co, Cn: controls,
 *       zero-width and bidi marks, lone surrogates, private-use and unassigned code points), except tab,
 *       newline and carriage return, which like every space separator (Zs) become a space;</li>
 *   <li>put spaces around each CJK ideograph, so that each one is a word of its own (kana, hangul and
 *       other scripts are untouched);</li>
 *   <li>compose to Unicode NFC (a decomposed "e" + U+0301 becomes "é");</li>
 *   <li>split on whitespace (space, and the line/paragraph separators U+2028/U+2029 that Python's
 *       {@code str.split()} also splits on) and lower-case each word (full Unicode lower-casing, as
 *       Python's {@code str.lower()}: "İ" becomes "i" + U+0307, a word-final "Σ" becomes "ς").</li>
 * </ol>
 * Accents are kept and punctuation is not split off here: the pre-tokenisation regex does that.
 */
final class ClipTextNormalizer {
    private ClipTextNormalizer() {
    }

    /** The lower-cased, whitespace-separated words of {@code text}; empty when it has none. */
    static List<String> words(String text) {
        StringBuilder cleaned = new StringBuilder(text.length() + 8);
        for (int i = 0; i < text.length(); ) {
            int cp = text.codePointAt(i);
            i += Character.charCount(cp);
            if (isSeparator(cp)) {
                cleaned.append(' ');
            } else if (isDropped(cp)) {
                continue;
            } else if (isCjkIdeograph(cp)) {
                cleaned.append(' ').appendCodePoint(cp).append(' ');
            } else {
                cleaned.appendCodePoint(cp);
            }
        }
        String composed = Normalizer.normalize(cleaned, Normalizer.Form.NFC);
        List<String> words = new ArrayList<>();
        for (String word : composed.split(" ")) {
            if (!word.isEmpty()) words.add(word.toLowerCase(Locale.ROOT));
        }
        return words;
    }

    private static boolean isSeparator(int cp) {
        if (cp == ' ' || cp == '\t' || cp == '\n' || cp == '\r') return true;
        int type = Character.getType(cp);
        // Zl and Zp survive HF's clean-up but its str.split() splits on them, so they separate words too.
        return type == Character.SPACE_SEPARATOR || type == Character.LINE_SEPARATOR
                || type == Character.PARAGRAPH_SEPARATOR;
    }

    private static boolean isDropped(int cp) {
        if (cp == 0xFFFD) return true;
        return switch (Character.getType(cp)) {
            case Character.CONTROL, Character.FORMAT, Character.SURROGATE, Character.PRIVATE_USE,
                 Character.UNASSIGNED -> true;
            default -> false;
        };
    }

    /** The CJK ideograph blocks of HF's {@code BasicTokenizer._is_chinese_char}. */
    static boolean isCjkIdeograph(int cp) {
        return (cp >= 0x4E00 && cp <= 0x9FFF)
                || (cp >= 0x3400 && cp <= 0x4DBF)
                || (cp >= 0x20000 && cp <= 0x2A6DF)
                || (cp >= 0x2A700 && cp <= 0x2B73F)
                || (cp >= 0x2B740 && cp <= 0x2B81F)
                || (cp >= 0x2B820 && cp <= 0x2CEAF)
                || (cp >= 0xF900 && cp <= 0xFAFF)
                || (cp >= 0x2F800 && cp <= 0x2FA1F);
    }
}
