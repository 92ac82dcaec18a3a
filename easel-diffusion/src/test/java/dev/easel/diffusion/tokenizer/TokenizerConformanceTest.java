package dev.easel.diffusion.tokenizer;

import org.assertj.core.api.SoftAssertions;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Every text of the fixtures' tokenizer conformance file through our tokenizers, as the pipelines call
 * them, against the reference ids: T5 at 256 (FLUX.1 schnell) and 512 (dev) with the bundled T5 vocabulary,
 * CLIP-L padded with EOS and CLIP-G padded with "!" with the bundled CLIP vocabulary. One test per text;
 * all four tokenizations are checked and reported together, each failure naming its text (surefire's
 * reports show dynamic tests by index only).
 */
class TokenizerConformanceTest {
    @TestFactory
    Stream<DynamicTest> everyTextTokenizesToTheReferenceIds() {
        var file = TokenizerCases.fromFixtures();
        assumeTrue(file.isPresent(), "the fixtures directory has no " + TokenizerCases.RELATIVE_PATH);
        TokenizerCases cases = file.get();
        assertThat(cases.cases()).as(cases.file() + " holds no cases").isNotEmpty();

        T5Tokenizer t5 = T5Tokenizer.bundled();
        ClipTokenizer clipL = ClipTokenizer.bundled();
        ClipTokenizer clipG = ClipTokenizer.bundled().withPadToken("!");
        return cases.cases().stream().map(c -> DynamicTest.dynamicTest(c.shortName(), () -> {
            SoftAssertions soft = new SoftAssertions();
            soft.assertThat(c.t5At256() != null || c.t5At512() != null || c.clipL() != null || c.clipG() != null)
                    .as(c.shortName() + " has reference ids").isTrue();
            if (c.t5At256() != null) soft.assertThat(t5.encode(c.text(), 256)).as(c.shortName() + " t5_256").containsExactly(c.t5At256());
            if (c.t5At512() != null) soft.assertThat(t5.encode(c.text(), 512)).as(c.shortName() + " t5_512").containsExactly(c.t5At512());
            if (c.clipL() != null) soft.assertThat(clipL.encode(c.text(), clipL.eosId())).as(c.shortName() + " clip_l").containsExactly(c.clipL());
            if (c.clipG() != null) soft.assertThat(clipG.encode(c.text())).as(c.shortName() + " clip_g").containsExactly(c.clipG());
            soft.assertAll();
        }));
    }
}
