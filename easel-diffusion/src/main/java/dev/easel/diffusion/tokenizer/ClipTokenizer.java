package dev.easel.diffusion.tokenizer;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

/**
 * CLIP's byte-level BPE tokenizer, giving the same ids as Hugging Face's slow {@code CLIPTokenizer}
 * (the one diffusers pipelines load) in an environment without the Python package {@code ftfy}.
 *
 * <p>How a prompt becomes ids:
 * <ol>
 *   <li>The text is first split around <em>added tokens</em>, matched exactly (case-sensitive,
 *       leftmost-longest): {@code <|startoftext|>}, {@code <|endoftext|>}, and any other special token of
 *       the tokenizer. Each becomes its id directly. This matters for SDXL's second tokenizer, whose pad
 *       token {@code "!"} is such a token: there every {@code !} is id 0, even inside {@code "wow!!"}
 *       (diffusers issue 4153), while the first tokenizer makes {@code "!!"} one token.</li>
 *   <li>Each remaining piece is cleaned, CJK-split, NFC-composed, split on whitespace and lower-cased
 *       ({@link ClipTextNormalizer}).</li>
 *   <li>Each word is cut by CLIP's pre-tokenisation regex, whose alternatives are tried in order:
 *       {@code <|startoftext|>}, {@code <|endoftext|>}, the contractions {@code 's 't 're 've 'm 'll 'd}
 *       (case-insensitive), a run of letters {@code \p{L}+}, one number character {@code \p{N}} (so
 *       "2024" is four tokens), or a run of anything else {@code [^\s\p{L}\p{N}]+} (punctuation,
 *       symbols, emoji, combining marks). "don't" gives "don" + "'t"; "'sun" gives "'s" + "un", a quirk
 *       kept from OpenAI's tokenizer. Java's {@code \p{L}} and {@code \p{N}} are the Unicode general
 *       categories L* and N*, as in Python's {@code regex} module, and both match whole code points, so
 *       "café", "straße", "東" or "𝐀" are letters and "🔥" is "other".</li>
 *   <li>Each match is BPE-encoded over its UTF-8 bytes ({@link BytePairEncoder}); the words
 *       {@code <|startoftext|>} and {@code <|endoftext|>} themselves map to their ids as HF's BPE cache
 *       does.</li>
 *   <li>{@link #encode} keeps the first 75 tokens, frames them with BOS 49406 and EOS 49407 and pads to 77.</li>
 * </ol>
 *
 * <p>Unicode in practice: accented letters stay inside their word and are not stripped ("café" is one
 * token); each CJK ideograph is a word of its own, while kana and hangul runs stay whole; emoji are
 * "other" characters, so a run such as "🔥🔥" or "🔥!" is one BPE word, and the zero-width joiner inside
 * emoji sequences (a format character) is dropped like every Cf character, as HF does.
 *
 * <p>Not reproduced, because no CLIP tokenizer uses them or they are too rare to matter: the
 * {@code lstrip}/{@code rstrip}/{@code single_word} flags of added tokens (false in every CLIP config);
 * Python's case-insensitive matching of the letter and "other" classes (which could only move U+0345,
 * a combining mark whose case fold is a letter); characters assigned in only one of the JDK's and
 * Python's Unicode versions (HF drops code points unassigned in its own).
 *
 * <p>Instances are immutable and thread-safe; BPE results are cached per word.
 */
public final class ClipTokenizer {
    /** Sequence length of every CLIP text encoder: BOS, at most 75 tokens, EOS, padding. */
    public static final int MAX_LENGTH = 77;
    public static final String BOS_TOKEN = "<|startoftext|>";
    public static final String EOS_TOKEN = "<|endoftext|>";

    private static final String BUNDLED = "clip/";
    // Python's pattern is compiled IGNORECASE; after lower-casing that only matters for the literal
    // alternatives (e.g. "'ſ" matches 's), so the flags are scoped to them.
    private static final Pattern PRE_TOKENIZER = Pattern.compile(
            "(?iu:<\\|startoftext\\|>|<\\|endoftext\\|>|'s|'t|'re|'ve|'m|'ll|'d)"
                    + "|\\p{L}+|\\p{N}|[^\\p{IsWhite_Space}\\p{L}\\p{N}]+");

    private final BytePairEncoder bpe;
    private final Map<String, Integer> addedTokens;
    private final Pattern addedTokenPattern;
    private final String bosToken;
    private final String eosToken;
    private final int startOfTextWordId;
    private final int endOfTextWordId;
    private final int bosId;
    private final int eosId;
    private final int padId;

    private ClipTokenizer(BytePairEncoder bpe, String bosToken, String eosToken, String padToken,
                          Map<String, Integer> addedTokens) {
        this.bpe = bpe;
        this.addedTokens = Map.copyOf(addedTokens);
        this.bosToken = bosToken;
        this.eosToken = eosToken;
        this.startOfTextWordId = vocabId(bpe, BOS_TOKEN, "vocabulary");
        this.endOfTextWordId = vocabId(bpe, EOS_TOKEN, "vocabulary");
        this.bosId = this.addedTokens.get(bosToken);
        this.eosId = this.addedTokens.get(eosToken);
        this.padId = this.addedTokens.get(padToken);
        // Longest first, so that the leftmost match is also the longest there (as HF's trie split).
        this.addedTokenPattern = Pattern.compile(this.addedTokens.keySet().stream()
                .sorted(Comparator.comparingInt(String::length).reversed())
                .map(Pattern::quote)
                .collect(Collectors.joining("|")));
    }

    /**
     * The CLIP vocabulary shipped with Easel (OpenAI's, MIT licence, see {@code clip/LICENSE}), with
     * CLIP-L's special tokens: it pads with EOS. For SDXL's / SD 2's OpenCLIP tokenizer use
     * {@code bundled().withPadToken("!")}.
     */
    public static ClipTokenizer bundled() {
        return Bundled.INSTANCE;
    }

    /** A tokenizer over the given {@code vocab.json} and {@code merges.txt}, with CLIP-L's special tokens. */
    public static ClipTokenizer fromFiles(Path vocabJson, Path mergesTxt) {
        try (InputStream vocab = Files.newInputStream(vocabJson); InputStream merges = Files.newInputStream(mergesTxt)) {
            return withClipSpecialTokens(BytePairEncoder.read(vocab, merges, vocabJson.toString()));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read tokenizer files " + vocabJson + ", " + mergesTxt, e);
        }
    }

    /**
     * A tokenizer from a diffusers {@code tokenizer/} or {@code tokenizer_2/} folder: {@code vocab.json},
     * {@code merges.txt}, and the special tokens (pad token included) of {@code special_tokens_map.json}
     * and {@code tokenizer_config.json}. Every special token is matched as an added token, as HF does.
     */
    public static ClipTokenizer fromDiffusersFolder(Path tokenizerDir) {
        BytePairEncoder bpe;
        try (InputStream vocab = Files.newInputStream(tokenizerDir.resolve("vocab.json"));
             InputStream merges = Files.newInputStream(tokenizerDir.resolve("merges.txt"))) {
            bpe = BytePairEncoder.read(vocab, merges, tokenizerDir.toString());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read tokenizer folder " + tokenizerDir, e);
        }
        DiffusersTokenizerConfig config = DiffusersTokenizerConfig.read(tokenizerDir);
        Map<String, Integer> added = new HashMap<>(config.addedTokenIds());
        List<String> specials = new ArrayList<>(List.of(
                config.bosToken(), config.eosToken(), config.unkToken(), config.padToken()));
        specials.addAll(config.additionalSpecialTokens());
        for (String token : specials) {
            added.computeIfAbsent(token, t -> vocabId(bpe, t, tokenizerDir.toString()));
        }
        return new ClipTokenizer(bpe, config.bosToken(), config.eosToken(), config.padToken(), added);
    }

    /**
     * This tokenizer with {@code padToken} as its pad token, registered as a special (added) token as HF
     * does when a tokenizer is given a pad token: {@code withPadToken("!")} is SDXL's {@code tokenizer_2}.
     */
    public ClipTokenizer withPadToken(String padToken) {
        Map<String, Integer> added = new HashMap<>(addedTokens);
        added.computeIfAbsent(padToken, t -> vocabId(bpe, t, "pad token"));
        return new ClipTokenizer(bpe, bosToken, eosToken, padToken, added);
    }

    /**
     * Exactly {@link #MAX_LENGTH} ids: BOS, the first 75 tokens of {@code text}, EOS, then
     * {@link #padId()} (as {@code tokenizer(text, padding="max_length", max_length=77, truncation=True)}).
     */
    public int[] encode(String text) {
        return encode(text, padId);
    }

    /** As {@link #encode(String)}, padding with {@code padId} instead. */
    public int[] encode(String text, int padId) {
        if (padId < 0 || padId >= bpe.vocabSize()) {
            throw new IllegalArgumentException("pad id " + padId + " is outside the vocabulary (0.." + (bpe.vocabSize() - 1) + ")");
        }
        int[] tokens = tokenIds(text, MAX_LENGTH - 2);
        int[] ids = new int[MAX_LENGTH];
        Arrays.fill(ids, padId);
        ids[0] = bosId;
        System.arraycopy(tokens, 0, ids, 1, tokens.length);
        ids[tokens.length + 1] = eosId;
        return ids;
    }

    /** All token ids of {@code text}, without BOS/EOS, untruncated (for prompts split into 75-token chunks). */
    public int[] tokenIds(String text) {
        return tokenIds(text, Integer.MAX_VALUE);
    }

    public int bosId() {
        return bosId;
    }

    public int eosId() {
        return eosId;
    }

    public int padId() {
        return padId;
    }

    /** Number of ids of the vocabulary (49408 for CLIP). */
    public int vocabSize() {
        return bpe.vocabSize();
    }

    /** The first {@code limit} token ids; stops early since a CLIP encoder reads only 75 of them. */
    private int[] tokenIds(String text, int limit) {
        Objects.requireNonNull(text, "text");
        IdList ids = new IdList();
        Matcher added = addedTokenPattern.matcher(text);
        int plainStart = 0;
        while (ids.size() < limit && added.find()) {
            appendPlain(text.substring(plainStart, added.start()), ids, limit);
            ids.add(addedTokens.get(added.group()));
            plainStart = added.end();
        }
        if (ids.size() < limit) appendPlain(text.substring(plainStart), ids, limit);
        return ids.toArray(limit);
    }

    private void appendPlain(String text, IdList ids, int limit) {
        for (String word : ClipTextNormalizer.words(text)) {
            Matcher piece = PRE_TOKENIZER.matcher(word);
            while (piece.find()) {
                String token = piece.group();
                if (token.equals(BOS_TOKEN)) {
                    ids.add(startOfTextWordId);
                } else if (token.equals(EOS_TOKEN)) {
                    ids.add(endOfTextWordId);
                } else {
                    ids.addAll(bpe.encode(token));
                }
                if (ids.size() >= limit) return;
            }
        }
    }

    private static ClipTokenizer withClipSpecialTokens(BytePairEncoder bpe) {
        Map<String, Integer> added = Map.of(
                BOS_TOKEN, vocabId(bpe, BOS_TOKEN, "vocabulary"),
                EOS_TOKEN, vocabId(bpe, EOS_TOKEN, "vocabulary"));
        return new ClipTokenizer(bpe, BOS_TOKEN, EOS_TOKEN, EOS_TOKEN, added);
    }

    private static int vocabId(BytePairEncoder bpe, String token, String source) {
        Integer id = bpe.id(token);
        if (id == null) throw new IllegalArgumentException(source + ": special token '" + token + "' is not in vocab.json");
        return id;
    }

    /** Loaded on first use, then shared. */
    private static final class Bundled {
        static final ClipTokenizer INSTANCE = load();

        private static ClipTokenizer load() {
            try (InputStream vocab = resource("vocab.json"); InputStream merges = resource("merges.txt")) {
                return withClipSpecialTokens(BytePairEncoder.read(vocab, merges, "bundled CLIP vocabulary"));
            } catch (IOException e) {
                throw new UncheckedIOException("cannot read the bundled CLIP vocabulary", e);
            }
        }

        private static InputStream resource(String name) {
            InputStream in = ClipTokenizer.class.getResourceAsStream(BUNDLED + name);
            if (in == null) throw new IllegalStateException("missing resource " + BUNDLED + name + " next to ClipTokenizer");
            return in;
        }
    }

    /** A growable int array. */
    private static final class IdList {
        private int[] ids = new int[MAX_LENGTH];
        private int size;

        int size() {
            return size;
        }

        void add(int id) {
            if (size == ids.length) ids = Arrays.copyOf(ids, size * 2);
            ids[size++] = id;
        }

        void addAll(int[] more) {
            for (int id : more) add(id);
        }

        int[] toArray(int limit) {
            return Arrays.copyOf(ids, Math.min(size, limit));
        }
    }
}
