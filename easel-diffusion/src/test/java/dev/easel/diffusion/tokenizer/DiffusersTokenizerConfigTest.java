package dev.easel.diffusion.tokenizer;

import dev.easel.diffusion.fixtures.FixtureCase;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

class DiffusersTokenizerConfigTest {
    @Test
    void readsSdxlTokenizer2() {
        var config = DiffusersTokenizerConfig.read(FixtureCase.requireTokenizerFolder("tokenizer_2", "vocab.json"));
        assertThat(config.padToken()).isEqualTo("!");
        assertThat(config.bosToken()).isEqualTo("<|startoftext|>");
        assertThat(config.eosToken()).isEqualTo("<|endoftext|>");
        assertThat(config.addedTokenIds()).containsEntry("!", 0).containsEntry("<|endoftext|>", 49407);
    }

    @Test
    void missingFilesGiveClipDefaults(@TempDir Path dir) throws IOException {
        copyVocabulary(dir);
        var config = DiffusersTokenizerConfig.read(dir);
        assertThat(config.padToken()).isEqualTo("<|endoftext|>");
        assertThat(config.addedTokenIds()).isEmpty();
        ClipTokenizer tokenizer = ClipTokenizer.fromDiffusersFolder(dir);
        assertThat(tokenizer.padId()).isEqualTo(49407);
        assertThat(tokenizer.tokenIds("! !!")).containsExactly(256, 748);
    }

    @Test
    void specialTokensMapWinsAndMayHoldTokenObjects(@TempDir Path dir) throws IOException {
        // An older-style SD 2 folder: no added_tokens_decoder, the pad token only in special_tokens_map.json.
        copyVocabulary(dir);
        Files.writeString(dir.resolve("tokenizer_config.json"), "{\"pad_token\": \"<|endoftext|>\"}");
        Files.writeString(dir.resolve("special_tokens_map.json"),
                "{\"pad_token\": {\"content\": \"!\", \"normalized\": false}}");
        ClipTokenizer tokenizer = ClipTokenizer.fromDiffusersFolder(dir);
        assertThat(tokenizer.padId()).isZero();
        // "!" becomes an added token even though only its vocab entry gives its id
        assertThat(tokenizer.tokenIds("! !!")).containsExactly(0, 0, 0);
    }

    /** The CLIP vocabulary files of any family's CLIP-L tokenizer folder. */
    private static void copyVocabulary(Path dir) throws IOException {
        Path clipL = FixtureCase.requireTokenizerFolder("tokenizer", "vocab.json");
        Files.copy(clipL.resolve("vocab.json"), dir.resolve("vocab.json"));
        Files.copy(clipL.resolve("merges.txt"), dir.resolve("merges.txt"));
    }
}
