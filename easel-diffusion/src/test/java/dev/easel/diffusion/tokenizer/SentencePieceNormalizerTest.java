package dev.easel.diffusion.tokenizer;

import dev.easel.diffusion.tokenizer.proto.SentencePieceModel.ModelProto;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.InputStream;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Normalisation: whitespace rules without a charsmap, and T5's nmt_nfkc rules (read from the bundled
 * model's precompiled charsmap) on characters whose NFKC forms are Unicode facts.
 */
class SentencePieceNormalizerTest {
    private static final PrecompiledCharsMap T5_RULES = t5Rules();

    private static PrecompiledCharsMap t5Rules() {
        try (InputStream in = T5Tokenizer.class.getResourceAsStream("t5/spiece.model")) {
            ModelProto model = ModelProto.parseFrom(in.readAllBytes());
            return PrecompiledCharsMap.decode(model.getNormalizerSpec().getPrecompiledCharsmap().toByteArray());
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    private static SentencePieceNormalizer t5() {
        return new SentencePieceNormalizer(T5_RULES, List.of(), true, true, true);
    }

    private static SentencePieceNormalizer plain(boolean dummyPrefix, boolean removeExtraSpaces, boolean escapeSpaces) {
        return new SentencePieceNormalizer(null, List.of(), dummyPrefix, removeExtraSpaces, escapeSpaces);
    }

    @Test
    void spacesAreCollapsedTrimmedPrefixedAndEscaped() {
        assertThat(plain(true, true, true).normalize("  a  b ")).isEqualTo("▁a▁b");
        assertThat(plain(true, false, true).normalize("  a  b ")).isEqualTo("▁▁▁a▁▁b▁");
        assertThat(plain(false, true, true).normalize("a b")).isEqualTo("a▁b");
        assertThat(plain(true, true, false).normalize("a  b")).isEqualTo(" a b");
    }

    @Test
    void emptyAndBlankTextsBecomeEmpty() {
        assertThat(plain(true, true, true).normalize("")).isEmpty();
        assertThat(plain(true, true, true).normalize("   ")).isEmpty();
        assertThat(t5().normalize(" \t\n\u3000\u00a0 ")).isEmpty();
    }

    @Test
    void fullWidthFormsAndLigaturesTakeTheirCompatibilityForms() {
        assertThat(t5().normalize("ＦＵＬＬ\u3000ＷＩＤＴＨ ｔｅｘｔ １２３")).isEqualTo("▁FULL▁WIDTH▁text▁123");
        assertThat(t5().normalize("ligatures ﬁne ﬂow")).isEqualTo("▁ligatures▁fine▁flow");
        assertThat(t5().normalize("²³ ½ ℃ ™ Ⅻ")).isEqualTo("▁23▁1\u20442▁°C▁TM▁XII");
        assertThat(t5().normalize("ｶﾀｶﾅ")).isEqualTo("▁カタカナ");
    }

    @Test
    void combiningMarksCompose() {
        assertThat(t5().normalize("e\u0301 A\u030a")).isEqualTo("▁é▁Å");
    }

    @Test
    void oddSpacesAreSpacesAndControlsAreDropped() {
        assertThat(t5().normalize("non\u00a0breaking\u2003em\u3000ideographic")).isEqualTo("▁non▁breaking▁em▁ideographic");
        assertThat(t5().normalize("tabs\tand\nnewlines\r\nhere")).isEqualTo("▁tabs▁and▁newlines▁here");
        assertThat(t5().normalize("zero\u200bwidth")).isEqualTo("▁zero▁width");
        assertThat(t5().normalize("bell\u0007")).isEqualTo("▁bell");
        // A literal ▁ in the text is a space too.
        assertThat(t5().normalize("\u2581x\u2581\u2581y")).isEqualTo("▁x▁y");
    }

    @Test
    void userDefinedPiecesPassThroughUnnormalised() {
        SentencePieceNormalizer n = new SentencePieceNormalizer(T5_RULES, List.of("ＡＢ"), true, true, true);
        assertThat(n.normalize("ＡＢＣ")).isEqualTo("▁ＡＢC");
    }

    @Test
    void brokenCharsMapsAreRefused() {
        assertThatThrownBy(() -> PrecompiledCharsMap.decode(new byte[]{1, 2, 3}))
                .isInstanceOf(IllegalArgumentException.class);
        byte[] badSize = new byte[2000];
        badSize[0] = (byte) 100; // 100 bytes of trie: not a multiple of 1024
        assertThatThrownBy(() -> PrecompiledCharsMap.decode(badSize)).hasMessageContaining("trie size");
        byte[] unterminated = new byte[4 + 1024 + 3];
        unterminated[1] = 4; // 1024
        unterminated[unterminated.length - 1] = 'x';
        assertThatThrownBy(() -> PrecompiledCharsMap.decode(unterminated)).hasMessageContaining("NUL");
    }
}
