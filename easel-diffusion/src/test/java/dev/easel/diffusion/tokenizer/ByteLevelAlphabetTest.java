package dev.easel.diffusion.tokenizer;

import org.junit.jupiter.api.Test;

import java.util.HashSet;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;

class ByteLevelAlphabetTest {
    @Test
    void printableBytesStandForThemselves() {
        assertThat(ByteLevelAlphabet.charOf('!')).isEqualTo('!');
        assertThat(ByteLevelAlphabet.charOf('~')).isEqualTo('~');
        assertThat(ByteLevelAlphabet.charOf(0xA1)).isEqualTo('¡');
        assertThat(ByteLevelAlphabet.charOf(0xE9)).isEqualTo('é');
    }

    @Test
    void otherBytesTakeTheCharactersFromU0100InByteOrder() {
        // the well-known GPT-2 stand-ins: NUL Ā, newline Ċ, space Ġ, DEL ġ, soft hyphen Ń
        assertThat(ByteLevelAlphabet.charOf(0x00)).isEqualTo('\u0100');
        assertThat(ByteLevelAlphabet.charOf('\n')).isEqualTo('Ċ');
        assertThat(ByteLevelAlphabet.charOf(' ')).isEqualTo('Ġ');
        assertThat(ByteLevelAlphabet.charOf(0x7F)).isEqualTo('ġ');
        assertThat(ByteLevelAlphabet.charOf(0xA0)).isEqualTo('ł');
        assertThat(ByteLevelAlphabet.charOf(0xAD)).isEqualTo('Ń');
    }

    @Test
    void theMappingIsOneToOne() {
        Set<Character> seen = new HashSet<>();
        for (int b = 0; b < 256; b++) seen.add(ByteLevelAlphabet.charOf(b));
        assertThat(seen).hasSize(256);
    }
}
