package dev.easel.diffusion.tokenizer;

import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The merge loop on a toy vocabulary, where every step can be followed by eye. */
class BytePairEncoderTest {
    /** Ids 0..255: the byte symbols, 256..511: the same with </w>, then one id per merge, in order. */
    private static BytePairEncoder toy(List<String> merges) throws IOException {
        Map<String, Integer> vocab = new LinkedHashMap<>();
        for (int b = 0; b < 256; b++) vocab.put(String.valueOf(ByteLevelAlphabet.charOf(b)), b);
        for (int b = 0; b < 256; b++) vocab.put(ByteLevelAlphabet.charOf(b) + "</w>", 256 + b);
        for (String merge : merges) vocab.putIfAbsent(merge.replace(" ", ""), vocab.size());
        byte[] vocabJson = new ObjectMapper().writeValueAsBytes(vocab);
        byte[] mergesTxt = ("#version: 0.2\n" + String.join("\n", merges) + "\n").getBytes(StandardCharsets.UTF_8);
        return BytePairEncoder.read(new ByteArrayInputStream(vocabJson), new ByteArrayInputStream(mergesTxt), "toy");
    }

    @Test
    void aSingleByteIsItsEndOfWordSymbol() throws IOException {
        BytePairEncoder bpe = toy(List.of());
        assertThat(bpe.encode("a")).containsExactly(256 + 'a');
        assertThat(bpe.encode("ab")).containsExactly('a', 256 + 'b');
    }

    @Test
    void theLowestRankedPairIsMergedFirst() throws IOException {
        // ranks: 0 "b c</w>" -> 512, 1 "a b" -> 513, 2 "a bc</w>" -> 514.
        // "abc" = a b c</w>: (b,c</w>) has rank 0 < (a,b) rank 1, so a bc</w>, then abc</w>.
        // Merging (a,b) first would leave ab c</w> with no merge.
        BytePairEncoder bpe = toy(List.of("b c</w>", "a b", "a bc</w>"));
        assertThat(bpe.encode("abc")).containsExactly(514);
        assertThat(bpe.encode("ab")).containsExactly('a', 256 + 'b'); // b</w> is not b: no merge applies
        assertThat(bpe.encode("abx")).containsExactly(513, 256 + 'x');
    }

    @Test
    void everyOccurrenceIsMergedLeftToRightWithoutOverlap() throws IOException {
        // "aaaa" = a a a a</w> with only "a a": a a | a a</w> -> aa, then a and a</w> stay apart.
        BytePairEncoder bpe = toy(List.of("a a"));
        int aa = 512;
        assertThat(bpe.encode("aaaa")).containsExactly(aa, 'a', 256 + 'a');
        assertThat(bpe.encode("aaaaa")).containsExactly(aa, aa, 256 + 'a');
        // the result is the same on the second (cached) call
        assertThat(bpe.encode("aaaaa")).containsExactly(aa, aa, 256 + 'a');
    }

    @Test
    void multiByteCharactersStartAsTheirUtf8Bytes() throws IOException {
        BytePairEncoder bpe = toy(List.of());
        // é = C3 A9
        assertThat(bpe.encode("é")).containsExactly(0xC3, 256 + 0xA9);
    }

    @Test
    void onlyTheFirstClipMergesAreUsed() {
        assertThat(BytePairEncoder.MAX_MERGES).isEqualTo(48894);
    }

    @Test
    void aMergeOutsideTheVocabularyIsAnErrorNamingItsLine() {
        byte[] vocab = "{\"a\": 0}".getBytes(StandardCharsets.UTF_8);
        byte[] merges = "#version: 0.2\na b\n".getBytes(StandardCharsets.UTF_8);
        assertThatThrownBy(() -> BytePairEncoder.read(new ByteArrayInputStream(vocab), new ByteArrayInputStream(merges), "toy"))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("not in vocab.json");
    }

    @Test
    void aMalformedMergeLineIsAnError() throws IOException {
        Map<String, Integer> vocab = new LinkedHashMap<>();
        for (int b = 0; b < 256; b++) vocab.put(String.valueOf(ByteLevelAlphabet.charOf(b)), b);
        for (int b = 0; b < 256; b++) vocab.put(ByteLevelAlphabet.charOf(b) + "</w>", 256 + b);
        byte[] vocabJson = new ObjectMapper().writeValueAsBytes(vocab);
        byte[] merges = "#version: 0.2\na b c\n".getBytes(StandardCharsets.UTF_8);
        assertThatThrownBy(() -> BytePairEncoder.read(new ByteArrayInputStream(vocabJson), new ByteArrayInputStream(merges), "toy"))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("line 2");
    }
}
