package dev.easel.diffusion.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import dev.easel.diffusion.fixtures.FixtureCase;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Token ids of every recorded reference run ({@code text.<prompt>.<encoder>.input_ids.npy}, made by the
 * diffusers pipelines with HF's CLIPTokenizer) against ours, through the case's own diffusers
 * tokenizer folder and through the bundled vocabulary.
 */
class ClipTokenizerFixturesTest {
    private static final List<String> PROMPT_KINDS = List.of("prompt", "negative_prompt");

    /** One recorded tokenisation: which case, which prompt, which CLIP encoder, and the reference array's stem. */
    record Recorded(FixtureCase fixture, String promptKind, String prompt, String encoder, String idsStem) {
        String name() {
            return fixture + " " + promptKind + " " + encoder + ": \"" + prompt + "\"";
        }

        /** The case's diffusers tokenizer folder for this encoder (tokenizer_2 holds CLIP-G). */
        Path tokenizerDir() {
            return fixture.diffusersDir().resolve(encoder.equals("clip_g") ? "tokenizer_2" : "tokenizer").normalize();
        }

        long[] expected() {
            return fixture.longs(idsStem);
        }
    }

    static List<Recorded> recordedTokenisations() {
        List<Recorded> recorded = new ArrayList<>();
        for (FixtureCase c : FixtureCase.all()) {
            JsonNode params = c.params();
            for (String kind : PROMPT_KINDS) {
                JsonNode prompt = params.get(kind);
                if (prompt == null || !prompt.isTextual()) continue;
                for (String encoder : List.of("clip_l", "clip_g")) {
                    String ids = "text." + kind + "." + encoder + ".input_ids";
                    if (c.has(ids)) recorded.add(new Recorded(c, kind, prompt.asText(), encoder, ids));
                }
            }
        }
        return recorded;
    }

    @Test
    void everyFamilyHasRecordedTokenIds() {
        List<Recorded> recorded = recordedTokenisations();
        assertThat(recorded).as("CLIP token ids recorded under " + FixtureCase.root()).isNotEmpty();
        assertThat(recorded).extracting(r -> r.fixture().family()).containsAll(FixtureCase.familyNames());
    }

    @TestFactory
    Stream<DynamicTest> idsFromTheCaseTokenizerFolderMatchTheReference() {
        return recordedTokenisations().stream().map(r -> DynamicTest.dynamicTest(r.name(), () -> {
            assumeTrue(Files.isRegularFile(r.tokenizerDir().resolve("vocab.json")), "no tokenizer folder " + r.tokenizerDir());
            ClipTokenizer tokenizer = ClipTokenizer.fromDiffusersFolder(r.tokenizerDir());
            assertThat(toLongs(tokenizer.encode(r.prompt()))).containsExactly(r.expected());
        }));
    }

    @TestFactory
    Stream<DynamicTest> idsFromTheBundledVocabularyMatchTheReference() {
        return recordedTokenisations().stream().map(r -> DynamicTest.dynamicTest(r.name(), () -> {
            ClipTokenizer tokenizer = r.encoder().equals("clip_g")
                    ? ClipTokenizer.bundled().withPadToken("!")
                    : ClipTokenizer.bundled();
            assertThat(toLongs(tokenizer.encode(r.prompt()))).containsExactly(r.expected());
        }));
    }

    @Test
    void padIdsComeFromTheFolderConfigs() {
        ClipTokenizer clipL = ClipTokenizer.fromDiffusersFolder(FixtureCase.requireTokenizerFolder("tokenizer", "vocab.json"));
        ClipTokenizer clipG = ClipTokenizer.fromDiffusersFolder(FixtureCase.requireTokenizerFolder("tokenizer_2", "vocab.json"));
        assertThat(clipL.padId()).isEqualTo(49407);
        assertThat(clipG.padId()).isEqualTo(0);
        assertThat(clipG.bosId()).isEqualTo(49406);
        assertThat(clipG.eosId()).isEqualTo(49407);
    }

    @Test
    void bundledFilesAreTheFixtureFiles() throws IOException {
        Path folder = FixtureCase.requireTokenizerFolder("tokenizer", "vocab.json");
        for (String name : List.of("vocab.json", "merges.txt")) {
            try (var in = ClipTokenizer.class.getResourceAsStream("clip/" + name)) {
                assertThat(in).as(name).isNotNull();
                assertThat(in.readAllBytes()).as(name).isEqualTo(Files.readAllBytes(folder.resolve(name)));
            }
        }
        try (var in = ClipTokenizer.class.getResourceAsStream("clip/LICENSE")) {
            assertThat(in).isNotNull();
            assertThat(new String(in.readAllBytes())).contains("MIT License", "Copyright (c) 2021 OpenAI");
        }
    }

    private static long[] toLongs(int[] ids) {
        return Arrays.stream(ids).asLongStream().toArray();
    }
}
