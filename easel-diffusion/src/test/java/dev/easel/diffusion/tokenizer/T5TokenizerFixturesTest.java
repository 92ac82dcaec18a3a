package dev.easel.diffusion.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import dev.easel.diffusion.fixtures.FixtureCase;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The T5 ids every recorded reference run fed its text encoder ({@code text.<prompt>.t5.input_ids.npy}, made
 * by the diffusers Flux pipelines with HF's T5Tokenizer at the case's {@code max_sequence_length}) against
 * ours, through the case's own {@code spiece.model} and through the bundled one.
 */
class T5TokenizerFixturesTest {
    private static final List<String> PROMPT_KINDS = List.of("prompt", "negative_prompt");

    record Recorded(FixtureCase fixture, String promptKind, String prompt, int maxLength, String idsStem) {
        String name() {
            return fixture + " " + promptKind + " @" + maxLength + ": \"" + prompt + "\"";
        }

        Path spieceModel() {
            return fixture.diffusersDir().resolve("tokenizer_2/spiece.model").normalize();
        }

        long[] expected() {
            return fixture.longs(idsStem);
        }
    }

    static List<Recorded> recorded() {
        List<Recorded> recorded = new ArrayList<>();
        for (FixtureCase c : FixtureCase.all()) {
            JsonNode params = c.params();
            for (String kind : PROMPT_KINDS) {
                String stem = "text." + kind + ".t5.input_ids";
                JsonNode prompt = params.get(kind);
                if (!c.has(stem) || prompt == null || !prompt.isTextual()) continue;
                JsonNode maxLength = params.get("max_sequence_length");
                if (maxLength == null || !maxLength.canConvertToInt()) {
                    throw new IllegalStateException(c + ": recorded T5 ids but its params name no max_sequence_length");
                }
                recorded.add(new Recorded(c, kind, prompt.asText(), maxLength.intValue(), stem));
            }
        }
        return recorded;
    }

    @TestFactory
    Stream<DynamicTest> idsFromTheCaseModelFileMatchTheReference() {
        List<Recorded> recorded = recorded();
        assumeTrue(!recorded.isEmpty(), "no fixture case recorded T5 token ids");
        return recorded.stream().map(r -> DynamicTest.dynamicTest(r.name(), () -> {
            assumeTrue(Files.isRegularFile(r.spieceModel()), "the case's diffusers folder has no " + r.spieceModel());
            T5Tokenizer tokenizer = T5Tokenizer.fromFile(r.spieceModel());
            assertThat(toLongs(tokenizer.encode(r.prompt(), r.maxLength()))).containsExactly(r.expected());
        }));
    }

    @TestFactory
    Stream<DynamicTest> idsFromTheBundledVocabularyMatchTheReference() {
        List<Recorded> recorded = recorded();
        assumeTrue(!recorded.isEmpty(), "no fixture case recorded T5 token ids");
        return recorded.stream().map(r -> DynamicTest.dynamicTest(r.name(), () ->
                assertThat(toLongs(T5Tokenizer.bundled().encode(r.prompt(), r.maxLength()))).containsExactly(r.expected())));
    }

    @Test
    void bundledModelIsTheFixtureModelWithItsNotice() throws IOException {
        Path fixture = FixtureCase.root().resolve("flux/diffusers/tokenizer_2/spiece.model");
        assumeTrue(Files.isRegularFile(fixture), "the fixtures have no " + fixture);
        try (InputStream in = T5Tokenizer.class.getResourceAsStream("t5/spiece.model")) {
            assertThat(in).isNotNull();
            assertThat(in.readAllBytes()).isEqualTo(Files.readAllBytes(fixture));
        }
        try (InputStream in = T5Tokenizer.class.getResourceAsStream("t5/NOTICE")) {
            assertThat(in).isNotNull();
            assertThat(new String(in.readAllBytes())).contains("Google", "Apache License, Version 2.0");
        }
    }

    private static long[] toLongs(int[] ids) {
        return Arrays.stream(ids).asLongStream().toArray();
    }
}
