package dev.easel.diffusion.tokenizer;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * CLIP's byte-level BPE over one pre-token: a vocabulary ({@code vocab.json}, token string to id) and
 * ranked merges ({@code merges.txt}). Immutable apart from its cache, and safe to share between threads.
 *
 * <p>A pre-token is turned into its UTF-8 bytes, each written as a symbol of the
 * {@link ByteLevelAlphabet}, the last one carrying the end-of-word marker {@code </w>}. Then, as long as
 * two neighbouring symbols form a known merge, the lowest-ranked such pair is merged at every place it
 * occurs, scanning left to right without overlap. This is OpenAI's {@code simple_tokenizer.bpe} and HF's
 * {@code CLIPTokenizer.bpe}. Symbols are handled as vocabulary ids: every merge result of a CLIP
 * vocabulary is itself a vocabulary entry, which {@link #read} checks.
 */
final class BytePairEncoder {
    /** CLIP uses the first 49152 - 256 - 2 merges (OpenAI's and HF's tokenizers slice the list so). */
    static final int MAX_MERGES = 49152 - 256 - 2;
    static final String END_OF_WORD = "</w>";

    // Prompts are short and repetitive; bound the cache so that a server fed arbitrary text stays small.
    private static final int CACHE_LIMIT = 20_000;
    private static final int CACHEABLE_LENGTH = 64;
    // 49k distinct keys read once: interning and canonicalising them would only slow loading down.
    private static final JsonFactory JSON = JsonFactory.builder()
            .disable(JsonFactory.Feature.INTERN_FIELD_NAMES)
            .disable(JsonFactory.Feature.CANONICALIZE_FIELD_NAMES)
            .build();

    private record Merge(int rank, int mergedId) {
    }

    private final Map<String, Integer> vocab;
    private final Map<Long, Merge> merges;
    private final int[] innerByteIds = new int[256];
    private final int[] finalByteIds = new int[256];
    private final int vocabSize;
    private final Map<String, int[]> cache = new ConcurrentHashMap<>();

    private BytePairEncoder(Map<String, Integer> vocab, Map<Long, Merge> merges, String source) {
        this.vocab = vocab;
        this.merges = merges;
        for (int b = 0; b < 256; b++) {
            String symbol = String.valueOf(ByteLevelAlphabet.charOf(b));
            innerByteIds[b] = requireToken(vocab, symbol, source);
            finalByteIds[b] = requireToken(vocab, symbol + END_OF_WORD, source);
        }
        this.vocabSize = vocab.values().stream().mapToInt(Integer::intValue).max().orElse(-1) + 1;
    }

    /**
     * Reads a vocabulary and its merges. {@code source} names them in error messages. The first line
     * of the merges is skipped as HF does (the {@code #version} header), and at most
     * {@link #MAX_MERGES} follow.
     */
    static BytePairEncoder read(InputStream vocabJson, InputStream mergesTxt, String source) throws IOException {
        Map<String, Integer> vocab = readVocab(vocabJson, source);
        return new BytePairEncoder(vocab, readMerges(mergesTxt, vocab, source), source);
    }

    /** The id of a whole vocabulary entry, or null. */
    Integer id(String token) {
        return vocab.get(token);
    }

    /** One more than the largest id. */
    int vocabSize() {
        return vocabSize;
    }

    /**
     * The ids of one pre-token (a match of the pre-tokenisation regex, not empty). The array may be
     * shared with the cache: callers copy from it and never change it.
     */
    int[] encode(String preToken) {
        int[] cached = cache.get(preToken);
        if (cached != null) return cached;
        byte[] bytes = preToken.getBytes(StandardCharsets.UTF_8);
        int[] symbols = new int[bytes.length];
        for (int i = 0; i < bytes.length; i++) {
            int[] table = i == bytes.length - 1 ? finalByteIds : innerByteIds;
            symbols[i] = table[bytes[i] & 0xFF];
        }
        int[] merged = applyMerges(symbols);
        if (preToken.length() <= CACHEABLE_LENGTH) {
            if (cache.size() >= CACHE_LIMIT) cache.clear();
            cache.put(preToken, merged);
        }
        return merged;
    }

    private int[] applyMerges(int[] word) {
        int length = word.length;
        while (length > 1) {
            Merge best = null;
            int first = -1;
            int second = -1;
            for (int i = 0; i + 1 < length; i++) {
                Merge merge = merges.get(pairKey(word[i], word[i + 1]));
                if (merge != null && (best == null || merge.rank() < best.rank())) {
                    best = merge;
                    first = word[i];
                    second = word[i + 1];
                }
            }
            if (best == null) break;
            // Merge every occurrence, left to right; writing in place is safe since out <= i.
            int out = 0;
            for (int i = 0; i < length; ) {
                if (i + 1 < length && word[i] == first && word[i + 1] == second) {
                    word[out++] = best.mergedId();
                    i += 2;
                } else {
                    word[out++] = word[i++];
                }
            }
            length = out;
        }
        return length == word.length ? word : Arrays.copyOf(word, length);
    }

    private static long pairKey(int first, int second) {
        return ((long) first << 32) | (second & 0xFFFFFFFFL);
    }

    private static Map<String, Integer> readVocab(InputStream in, String source) throws IOException {
        Map<String, Integer> vocab = new HashMap<>(65_536);
        try (JsonParser parser = JSON.createParser(in)) {
            if (parser.nextToken() != JsonToken.START_OBJECT) {
                throw new IllegalArgumentException(source + ": vocab.json is not a JSON object");
            }
            while (parser.nextToken() == JsonToken.FIELD_NAME) {
                String token = parser.currentName();
                if (parser.nextToken() != JsonToken.VALUE_NUMBER_INT) {
                    throw new IllegalArgumentException(source + ": vocab.json entry '" + token + "' has no integer id");
                }
                vocab.put(token, parser.getIntValue());
            }
        }
        return vocab;
    }

    private static Map<Long, Merge> readMerges(InputStream in, Map<String, Integer> vocab, String source)
            throws IOException {
        Map<Long, Merge> merges = new HashMap<>(2 * MAX_MERGES);
        BufferedReader reader = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8), 1 << 16);
        reader.readLine(); // "#version: 0.2"
        String line;
        for (int rank = 0; rank < MAX_MERGES && (line = reader.readLine()) != null; rank++) {
            if (line.isBlank()) continue; // keeps its rank, matches nothing, as in HF
            String trimmed = line.strip();
            int space = trimmed.indexOf(' ');
            if (space <= 0 || trimmed.indexOf(' ', space + 1) >= 0) {
                throw new IllegalArgumentException(source + ": merges.txt line " + (rank + 2)
                        + " is not two symbols separated by a space: '" + line + "'");
            }
            String left = trimmed.substring(0, space);
            String right = trimmed.substring(space + 1);
            Integer first = vocab.get(left);
            Integer second = vocab.get(right);
            Integer merged = vocab.get(left + right);
            if (first == null || second == null || merged == null) {
                throw new IllegalArgumentException(source + ": merges.txt line " + (rank + 2) + " ('" + line
                        + "') uses a symbol that is not in vocab.json");
            }
            merges.put(pairKey(first, second), new Merge(rank, merged));
        }
        return merges;
    }

    private static int requireToken(Map<String, Integer> vocab, String token, String source) {
        Integer id = vocab.get(token);
        if (id == null) throw new IllegalArgumentException(source + ": token '" + token + "' is not in vocab.json");
        return id;
    }
}
