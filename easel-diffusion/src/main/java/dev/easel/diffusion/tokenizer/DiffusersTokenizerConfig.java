package dev.easel.diffusion.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The special tokens a diffusers (Hugging Face) tokenizer folder declares in
 * {@code special_tokens_map.json} and {@code tokenizer_config.json}.
 *
 * <p>Each of {@code bos_token}, {@code eos_token}, {@code unk_token}, {@code pad_token} is either a string
 * or an object with a {@code content} string. Like {@code from_pretrained}, a value in
 * {@code special_tokens_map.json} wins over one in {@code tokenizer_config.json}; a missing one takes
 * {@code CLIPTokenizer}'s default. {@code added_tokens_decoder} (id to token object) gives the ids of
 * added tokens; for SDXL's {@code tokenizer_2} it lists {@code "!"} (id 0), its pad token.
 *
 * @param addedTokenIds contents of {@code added_tokens_decoder}, token to id, in file order
 * @param additionalSpecialTokens {@code additional_special_tokens}, if any
 */
record DiffusersTokenizerConfig(String bosToken, String eosToken, String unkToken, String padToken,
                                List<String> additionalSpecialTokens, Map<String, Integer> addedTokenIds) {
    static final String SPECIAL_TOKENS_MAP = "special_tokens_map.json";
    static final String TOKENIZER_CONFIG = "tokenizer_config.json";
    private static final ObjectMapper JSON = new ObjectMapper();

    DiffusersTokenizerConfig {
        additionalSpecialTokens = List.copyOf(additionalSpecialTokens);
        addedTokenIds = Map.copyOf(addedTokenIds);
    }

    /** Reads the folder's two JSON files; either may be absent. */
    static DiffusersTokenizerConfig read(Path tokenizerDir) {
        JsonNode map = readIfPresent(tokenizerDir.resolve(SPECIAL_TOKENS_MAP));
        JsonNode config = readIfPresent(tokenizerDir.resolve(TOKENIZER_CONFIG));

        Map<String, Integer> added = new LinkedHashMap<>();
        JsonNode decoder = config.path("added_tokens_decoder");
        for (Map.Entry<String, JsonNode> entry : decoder.properties()) {
            String content = content(entry.getValue());
            if (content == null) {
                throw new IllegalArgumentException(tokenizerDir.resolve(TOKENIZER_CONFIG)
                        + ": added_tokens_decoder entry " + entry.getKey() + " has no content");
            }
            added.put(content, Integer.parseInt(entry.getKey()));
        }

        List<String> additional = new ArrayList<>();
        JsonNode extra = map.has("additional_special_tokens") ? map.get("additional_special_tokens")
                : config.path("additional_special_tokens");
        for (JsonNode token : extra) {
            String content = content(token);
            if (content != null) additional.add(content);
        }

        return new DiffusersTokenizerConfig(
                special(map, config, "bos_token", ClipTokenizer.BOS_TOKEN),
                special(map, config, "eos_token", ClipTokenizer.EOS_TOKEN),
                special(map, config, "unk_token", ClipTokenizer.EOS_TOKEN),
                special(map, config, "pad_token", ClipTokenizer.EOS_TOKEN),
                additional, added);
    }

    private static String special(JsonNode map, JsonNode config, String key, String fallback) {
        String fromMap = content(map.get(key));
        if (fromMap != null) return fromMap;
        String fromConfig = content(config.get(key));
        return fromConfig != null ? fromConfig : fallback;
    }

    /** A token given as a plain string or as an AddedToken object; null when absent. */
    private static String content(JsonNode node) {
        if (node == null || node.isNull()) return null;
        if (node.isTextual()) return node.asText();
        JsonNode content = node.get("content");
        return content != null && content.isTextual() ? content.asText() : null;
    }

    private static JsonNode readIfPresent(Path file) {
        if (!Files.isRegularFile(file)) return JSON.createObjectNode();
        try {
            return JSON.readTree(file.toFile());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + file, e);
        }
    }
}
