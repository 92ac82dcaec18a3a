package dev.easel.diffusion.tokenizer;

import dev.easel.diffusion.fixtures.FixtureCase;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.stream.IntStream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Hand-checked strings on the real CLIP vocabulary. Expected ids come from sources independent of this
 * code: published HF/OpenCLIP outputs, or BPE traced by hand from merges.txt ranks (0-based, after the
 * header) and vocab.json ids, written next to each case.
 */
class ClipTokenizerTest {
    private static final int BOS = 49406;
    private static final int EOS = 49407;

    private final ClipTokenizer clip = ClipTokenizer.bundled();

    /** BOS, tokens, EOS, then pad up to 77. */
    private static int[] framed(int pad, int... tokens) {
        int[] ids = new int[ClipTokenizer.MAX_LENGTH];
        Arrays.fill(ids, pad);
        ids[0] = BOS;
        System.arraycopy(tokens, 0, ids, 1, tokens.length);
        ids[tokens.length + 1] = EOS;
        return ids;
    }

    @Test
    void specialIdsOfTheBundledVocabulary() {
        assertThat(clip.bosId()).isEqualTo(BOS);
        assertThat(clip.eosId()).isEqualTo(EOS);
        assertThat(clip.padId()).isEqualTo(EOS);
        assertThat(clip.vocabSize()).isEqualTo(49408);
        assertThat(clip.withPadToken("!").padId()).isZero();
    }

    @Test
    void aPhotoOfACat() {
        // HF's CLIP documentation example: a</w> 320, photo</w> 1125, of</w> 539, cat</w> 2368.
        assertThat(clip.encode("a photo of a cat")).containsExactly(framed(EOS, 320, 1125, 539, 320, 2368));
        assertThat(clip.encode("a photo of a cat", 0)).containsExactly(framed(0, 320, 1125, 539, 320, 2368));
    }

    @Test
    void emptyAndBlankPromptsAreJustBosAndEos() {
        assertThat(clip.encode("")).containsExactly(framed(EOS));
        assertThat(clip.encode("", 0)).containsExactly(framed(0));
        assertThat(clip.encode(" \n\t\r\u00a0 ")).containsExactly(framed(EOS));
        assertThat(clip.tokenIds("")).isEmpty();
    }

    @Test
    void upperCaseIsLowerCased() {
        assertThat(clip.tokenIds("A PHOTO OF A CAT")).containsExactly(320, 1125, 539, 320, 2368);
        assertThat(clip.tokenIds("A Photo of a Cat")).containsExactly(320, 1125, 539, 320, 2368);
    }

    @Test
    void runsOfWhitespaceAndNewlinesSeparateWordsOnly() {
        assertThat(clip.tokenIds("  a\tphoto\n\nof   a\r\ncat  ")).containsExactly(320, 1125, 539, 320, 2368);
        // no-break space (Zs) and line separator (Zl) separate words too
        assertThat(clip.tokenIds("a\u00a0photo\u2028of a cat")).containsExactly(320, 1125, 539, 320, 2368);
    }

    @Test
    void punctuationIsSplitFromWords() {
        // hello: h e l l o</w> -> (e,l)#32 -> (el,l)#314 -> (ell,o</w>)#2000 -> (h,ello</w>)#2794 = hello</w> 3306
        // world: w o r l d</w> -> (o,r)#11 -> (w,or)#129 -> (l,d</w>)#218 -> (wor,ld</w>)#490 = world</w> 1002
        // ,</w> 267  .</w> 269
        assertThat(clip.tokenIds("hello, world.")).containsExactly(3306, 267, 1002, 269);
        assertThat(clip.tokenIds("hello,world.")).containsExactly(3306, 267, 1002, 269);
    }

    @Test
    void runsOfPunctuationStayTogetherExceptOnClipG() {
        // diffusers issue 4153: OpenCLIP gives 256 (!</w>), 748 (!!</w>), 995 (!!!</w>) for "! !! !!!",
        // and HF's SDXL tokenizer_2, where "!" is the pad token and so an added token, gives six 0s.
        assertThat(clip.tokenIds("! !! !!!")).containsExactly(256, 748, 995);
        int[] clipG = framed(0, 0, 0, 0, 0, 0, 0);
        assertThat(clip.withPadToken("!").encode("! !! !!!")).containsExactly(clipG);
        Path tokenizer2 = FixtureCase.requireTokenizerFolder("tokenizer_2", "vocab.json");
        assertThat(ClipTokenizer.fromDiffusersFolder(tokenizer2).encode("! !! !!!")).containsExactly(clipG);
        // the split also cuts words: "hello!!" is hello</w> + !!</w> on CLIP-L, hello</w> + ! + ! on CLIP-G
        assertThat(clip.tokenIds("hello!!")).containsExactly(3306, 748);
        assertThat(clip.withPadToken("!").tokenIds("hello!!")).containsExactly(3306, 0, 0);
    }

    @Test
    void contractionsAreSplitOff() {
        // don: d o n</w> -> (o,n</w>)#13 -> (d,on</w>)#335 = don</w> 847;  't: (',t</w>)#201 = 't</w> 713
        assertThat(clip.tokenIds("don't")).containsExactly(847, 713);
        assertThat(clip.tokenIds("DON'T")).containsExactly(847, 713);
        // OpenAI's quirk: 's matches at the start of "'sun": 's</w> 568 (rank 56), un</w> 2271 (rank 1759),
        // while "sun" is s u n</w> -> (s,u)#93 -> (su,n</w>)#1664 = sun</w> 2176
        assertThat(clip.tokenIds("'sun")).containsExactly(568, 2271);
        assertThat(clip.tokenIds("sun")).containsExactly(2176);
    }

    @Test
    void everyDigitIsItsOwnToken() {
        // 2</w> 273, 0</w> 271, 4</w> 275
        assertThat(clip.tokenIds("2024")).containsExactly(273, 271, 273, 275);
    }

    @Test
    void accentedLettersStayInTheirWord() {
        // café = c a f 0xC3 0xA9 = c a f Ã ©</w> -> (a,f)#190 -> (c,af)#2959 -> (Ã,©</w>)#3654
        //   -> (caf,Ã©</w>)#14792 = cafÃ©</w> 15304. Had é not been a letter, "caf" and "é" would be two tokens.
        assertThat(clip.tokenIds("café")).containsExactly(15304);
        assertThat(clip.tokenIds("CAFÉ")).containsExactly(15304);
        // decomposed e + U+0301 is composed (NFC) first
        assertThat(clip.tokenIds("cafe\u0301")).containsExactly(15304);
    }

    @Test
    void cjkIdeographsAreWordsOfTheirOwn() {
        // 你 = E4 BD A0 = ä ½ ł</w> -> (ä,½)#46954, nothing more: ä½ 47466, ł</w> 510
        // 好 = E5 A5 BD = å ¥ ½</w> -> (å,¥)#28778, nothing more: å¥ 29290, ½</w> 377
        // As one word the first would end in ł (not ł</w>).
        assertThat(clip.tokenIds("你好")).containsExactly(47466, 510, 29290, 377);
    }

    @Test
    void emojiAreOtherCharacters() {
        // 🔥 = F0 9F 94 A5 = ð Ł Ķ ¥</w> -> (ð,Ł)#46 -> (ðŁ,Ķ)#916 -> (ðŁĶ,¥</w>)#2504 = ðŁĶ¥</w> 3016
        assertThat(clip.tokenIds("🔥")).containsExactly(3016);
        // fire: f i r e</w> -> (i,r)#70 -> (f,ir)#258 -> (fir,e</w>)#1257 = fire</w> 1769, a match of its own
        assertThat(clip.tokenIds("fire🔥")).containsExactly(1769, 3016);
        // a run of emoji is one match: ... -> (ðŁĶ,¥</w>)#2504 -> (ðŁĶ,¥)#2679 -> (ðŁĶ¥,ðŁĶ¥</w>)#11259 = 11771
        assertThat(clip.tokenIds("🔥🔥")).containsExactly(11771);
    }

    @Test
    void invisibleCharactersAreDropped() {
        // zero-width space (Cf), a control character and U+FFFD vanish without separating
        assertThat(clip.tokenIds("pho\u200bto")).containsExactly(1125);
        assertThat(clip.tokenIds("\u0007photo\ufffd")).containsExactly(1125);
    }

    @Test
    void specialTokensInTheTextMapToTheirIds() {
        assertThat(clip.tokenIds("a <|endoftext|> cat")).containsExactly(320, EOS, 2368);
        assertThat(clip.tokenIds("a<|startoftext|>cat")).containsExactly(320, BOS, 2368);
        // lower-cased first, then matched by the pre-tokenisation regex
        assertThat(clip.tokenIds("a <|ENDOFTEXT|> cat")).containsExactly(320, EOS, 2368);
    }

    @Test
    void longPromptsKeepTheFirst75Tokens() {
        String hundredAs = "a ".repeat(100);
        int[] seventyFiveAs = new int[75];
        Arrays.fill(seventyFiveAs, 320);
        int[] ids = clip.encode(hundredAs);
        assertThat(ids).hasSize(77).containsExactly(framed(EOS, seventyFiveAs));
        assertThat(ids[0]).isEqualTo(BOS);
        assertThat(ids[76]).isEqualTo(EOS);
        assertThat(clip.tokenIds(hundredAs)).hasSize(100);
        // exactly 75 tokens fit; a 76th ("cat") is cut
        assertThat(clip.encode("a ".repeat(75))).containsExactly(framed(EOS, seventyFiveAs));
        assertThat(clip.encode("a ".repeat(75) + "cat")).containsExactly(framed(EOS, seventyFiveAs));
        int[] seventyFourAndCat = Arrays.copyOf(seventyFiveAs, 75);
        seventyFourAndCat[74] = 2368;
        assertThat(clip.encode("a ".repeat(74) + "cat dog")).containsExactly(framed(EOS, seventyFourAndCat));
    }

    @Test
    void padIdMustBeInTheVocabulary() {
        assertThatThrownBy(() -> clip.encode("x", -1)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> clip.encode("x", 49408)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void encodingFromManyThreadsGivesTheSequentialResult() throws Exception {
        Path folder = FixtureCase.requireTokenizerFolder("tokenizer", "vocab.json");
        ClipTokenizer fresh = ClipTokenizer.fromFiles(folder.resolve("vocab.json"), folder.resolve("merges.txt"));
        List<String> prompts = IntStream.range(0, 200)
                .mapToObj(i -> "prompt number " + i + ", a watercolor painting of lighthouse " + (i % 7) + " at dusk")
                .toList();
        List<int[]> expected = prompts.stream().map(clip::encode).toList();
        try (ExecutorService pool = Executors.newFixedThreadPool(4)) {
            List<Future<int[]>> results = new ArrayList<>();
            for (String prompt : prompts) results.add(pool.submit(() -> fresh.encode(prompt)));
            for (int i = 0; i < prompts.size(); i++) {
                assertThat(results.get(i).get()).as(prompts.get(i)).containsExactly(expected.get(i));
            }
        }
    }
}
