package dev.easel.diffusion.tokenizer;

import dev.easel.diffusion.fixtures.FixtureCase;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.stream.IntStream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The HF T5Tokenizer layer: special and extra ids, end-of-sequence, padding and truncation; ids of single
 * pieces are read from the model file ({@code ▁the} is 8, {@code ▁} 3, {@code a} 9, {@code b} 115).
 */
class T5TokenizerTest {
    private static final int EOS = 1;
    private static final int PAD = 0;
    private static final int UNK = 2;

    private final T5Tokenizer t5 = T5Tokenizer.bundled();

    @Test
    void specialIds() {
        assertThat(t5.eosId()).isEqualTo(EOS);
        assertThat(t5.padId()).isEqualTo(PAD);
        assertThat(t5.vocabSize()).isEqualTo(32100);
    }

    @Test
    void endsWithEndOfSequenceThenPads() {
        assertThat(t5.encode("the", 5)).containsExactly(8, EOS, PAD, PAD, PAD);
        assertThat(t5.encode("", 3)).containsExactly(EOS, PAD, PAD);
        assertThat(t5.encode("the", 1)).containsExactly(EOS);
        assertThatThrownBy(() -> t5.encode("the", 0)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void truncatesSoThatEndOfSequenceStaysLast() {
        int the = 8;
        String text = "the ".repeat(600);
        for (int maxLength : new int[]{256, 512}) {
            int[] ids = t5.encode(text, maxLength);
            assertThat(ids).hasSize(maxLength);
            assertThat(Arrays.copyOf(ids, maxLength - 1)).containsOnly(the);
            assertThat(ids[maxLength - 1]).isEqualTo(EOS);
        }
        assertThat(t5.tokenIds(text)).hasSize(600);
    }

    @Test
    void extraIdsCountDownFromTheTopAndEatTheSpacesAroundThem() {
        assertThat(t5.tokenIds("<extra_id_0>")).containsExactly(32099);
        assertThat(t5.tokenIds("<extra_id_99>")).containsExactly(32000);
        assertThat(t5.tokenIds("<extra_id_10>")).containsExactly(32089);
        // Each side is encoded on its own, with its own ▁ (legacy behaviour): "a" is ▁ + a, "b" is ▁ + b.
        assertThat(t5.tokenIds("a <extra_id_0>  b")).containsExactly(3, 9, 32099, 3, 115);
        assertThat(t5.tokenIds("a<extra_id_0>b")).containsExactly(3, 9, 32099, 3, 115);
    }

    @Test
    void specialTokensInTheTextAreTheirIds() {
        assertThat(t5.tokenIds("a<pad>")).containsExactly(3, 9, PAD);
        assertThat(t5.tokenIds("<unk>the")).containsExactly(UNK, 8);
        // A text already ending with </s> gets no second one (HF's legacy T5 behaviour).
        assertThat(t5.encode("the</s>", 4)).containsExactly(8, EOS, PAD, PAD);
        assertThat(t5.encode("the</s> the", 5)).containsExactly(8, EOS, 8, EOS, PAD);
    }

    @Test
    void unknownScriptsAreOneUnknownPerRun() {
        assertThat(t5.tokenIds("東京")).containsExactly(3, UNK);
        assertThat(t5.tokenIds("東京 the")).containsExactly(3, UNK, 8);
    }

    @Test
    void aModelFileGivesTheSameIdsAsTheBundledOne() {
        Path model = FixtureCase.root().resolve("flux/diffusers/tokenizer_2/spiece.model");
        assumeTrue(Files.isRegularFile(model), "the fixtures have no " + model);
        T5Tokenizer fromFile = T5Tokenizer.fromFile(model);
        String text = "A cyberpunk street market, ＦＵＬＬ width, <extra_id_3> café";
        assertThat(fromFile.encode(text, 64)).containsExactly(t5.encode(text, 64));
        assertThatThrownBy(() -> T5Tokenizer.fromFile(model.resolveSibling("missing.model")))
                .hasMessageContaining("missing.model");
    }

    @Test
    void aLongPromptTokenizesInMillisecondsAndTheModelLoadsWellUnderASecond() {
        String text = "a photograph of a cyberpunk street market at night, neon lights, rain, ".repeat(40);
        assertThat(t5.tokenIds(text).length).isGreaterThan(512);
        long[] nanos = new long[30];
        for (int run = 0; run < 60; run++) {
            long start = System.nanoTime();
            t5.encode(text, 512);
            if (run >= 30) nanos[run - 30] = System.nanoTime() - start;
        }
        Arrays.sort(nanos);
        double medianMs = nanos[nanos.length / 2] / 1e6;
        assertThat(medianMs).as("median ms to encode 512 tokens").isLessThan(20);

        Path model = FixtureCase.root().resolve("flux/diffusers/tokenizer_2/spiece.model");
        assumeTrue(Files.isRegularFile(model), "the fixtures have no " + model);
        double loadMs = IntStream.range(0, 3).mapToLong(i -> {
            long start = System.nanoTime();
            T5Tokenizer.fromFile(model);
            return System.nanoTime() - start;
        }).min().orElseThrow() / 1e6;
        assertThat(loadMs).as("ms to load spiece.model").isLessThan(1000);
        System.out.printf("T5 tokenizer: 512-token prompt %.2f ms (median), model load %.0f ms (best of 3)%n", medianMs, loadMs);
    }
}
