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
 * T5's tokenizer as FLUX.1 pipelines call it: Hugging Face's slow {@code T5Tokenizer} ({@code legacy=True},
 * 100 extra ids) over a SentencePiece unigram model, with {@code padding="max_length", truncation=True}.
 *
 * <p>How a prompt becomes ids:
 * <ol>
 *   <li>The text is split around added tokens, matched exactly: {@code <pad>}, {@code </s>}, {@code <unk>}
 *       and {@code <extra_id_0>}..{@code <extra_id_99>} (ids 32099..32000 for T5: {@code <extra_id_N>} is
 *       the vocabulary size + 99 - N). Each becomes its id; the extra ids also swallow the whitespace on
 *       both sides, as HF's {@code lstrip}/{@code rstrip} flags do.</li>
 *   <li>Each remaining chunk is encoded by SentencePiece on its own ({@link SentencePieceEncoder}), so each
 *       gets its own leading {@code ▁} (the legacy behaviour): normalisation by the model's rules (T5:
 *       {@code nmt_nfkc}), then the best-scoring split into pieces; unknown characters become
 *       {@code <unk>} (id 2), a run of them one {@code <unk>}.</li>
 *   <li>{@link #encode} keeps the first {@code maxLength - 1} ids, appends {@code </s>} unless the ids
 *       already end with it (an HF quirk for texts ending in "</s>"), and pads with {@code <pad>}.</li>
 * </ol>
 *
 * <p>Instances are immutable and thread-safe.
 */
public final class T5Tokenizer {
    /** Hugging Face's T5 tokenizers add this many {@code <extra_id_N>} sentinel tokens. */
    public static final int EXTRA_IDS = 100;
    private static final String BUNDLED = "t5/spiece.model";

    private final SentencePieceEncoder sentencePiece;
    private final Map<String, Integer> addedIds = new HashMap<>();
    /** Added tokens that strip the whitespace next to them (the extra ids). */
    private final Map<String, Boolean> stripsWhitespace = new HashMap<>();
    private final Pattern addedTokenPattern;
    private final int eosId;
    private final int padId;

    private T5Tokenizer(SentencePieceEncoder sentencePiece, String source) {
        this.sentencePiece = sentencePiece;
        this.eosId = sentencePiece.eosId();
        this.padId = sentencePiece.padId();
        if (eosId < 0 || padId < 0) throw new IllegalArgumentException(source + ": the model defines no end-of-sequence or padding piece");
        for (int id : new int[]{padId, eosId, sentencePiece.unkId()}) {
            if (id >= sentencePiece.size()) throw new IllegalArgumentException(source + ": special id " + id + " is outside the " + sentencePiece.size() + " pieces");
        }
        for (int id : new int[]{padId, eosId, sentencePiece.unkId()}) {
            addedIds.put(sentencePiece.piece(id), id);
            stripsWhitespace.put(sentencePiece.piece(id), false);
        }
        for (int n = 0; n < EXTRA_IDS; n++) {
            String token = "<extra_id_" + n + ">";
            addedIds.put(token, sentencePiece.size() + EXTRA_IDS - 1 - n);
            stripsWhitespace.put(token, true);
        }
        // Longest first, so that the leftmost match is also the longest there (as HF's trie split).
        this.addedTokenPattern = Pattern.compile(addedIds.keySet().stream()
                .sorted(Comparator.comparingInt(String::length).reversed().thenComparing(Comparator.naturalOrder()))
                .map(Pattern::quote)
                .collect(Collectors.joining("|")));
    }

    /** The standard T5 vocabulary shipped with Easel (Google's, Apache 2.0, see {@code t5/NOTICE}). */
    public static T5Tokenizer bundled() {
        return Bundled.INSTANCE;
    }

    /** A tokenizer over a SentencePiece model file such as a diffusers {@code tokenizer_2/spiece.model}. */
    public static T5Tokenizer fromFile(Path spieceModel) {
        try {
            return new T5Tokenizer(SentencePieceEncoder.read(Files.readAllBytes(spieceModel), spieceModel.toString()),
                    spieceModel.toString());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read SentencePiece model " + spieceModel, e);
        }
    }

    /**
     * Exactly {@code maxLength} ids: the first {@code maxLength - 1} token ids of {@code text}, {@code </s>},
     * then {@link #padId()} (as {@code tokenizer(text, padding="max_length", max_length=maxLength, truncation=True)}).
     */
    public int[] encode(String text, int maxLength) {
        if (maxLength < 1) throw new IllegalArgumentException("max length must be at least 1, got " + maxLength);
        int[] tokens = tokenIds(text);
        int kept = Math.min(tokens.length, maxLength - 1);
        int[] ids = new int[maxLength];
        Arrays.fill(ids, padId);
        System.arraycopy(tokens, 0, ids, 0, kept);
        if (kept == 0 || tokens[kept - 1] != eosId) ids[kept] = eosId;
        return ids;
    }

    /** All token ids of {@code text}, without {@code </s>} and untruncated (e.g. to tell whether a prompt fits). */
    public int[] tokenIds(String text) {
        Objects.requireNonNull(text, "text");
        List<Chunk> chunks = splitOnAddedTokens(text);
        List<Integer> ids = new ArrayList<>();
        for (Chunk chunk : chunks) {
            if (chunk.text.isEmpty()) continue;
            if (chunk.added) {
                ids.add(addedIds.get(chunk.text));
            } else {
                for (UnigramModel.Segment segment : sentencePiece.encode(chunk.text)) {
                    // HF maps each piece's text back to an id, added tokens first.
                    Integer added = addedIds.get(segment.text());
                    ids.add(added != null ? added : sentencePiece.pieceId(segment.text()));
                }
            }
        }
        return ids.stream().mapToInt(Integer::intValue).toArray();
    }

    public int padId() {
        return padId;
    }

    public int eosId() {
        return eosId;
    }

    /** The SentencePiece layer (for tests of its parts). */
    SentencePieceEncoder sentencePiece() {
        return sentencePiece;
    }

    /** The number of ids: the model's pieces plus the extra ids (32100 for T5, whose embedding table is padded to 32128 rows). */
    public int vocabSize() {
        return sentencePiece.size() + EXTRA_IDS;
    }

    /** A piece of the text: an added token, or plain text for SentencePiece. */
    private static final class Chunk {
        String text;
        final boolean added;

        Chunk(String text, boolean added) {
            this.text = text;
            this.added = added;
        }
    }

    private List<Chunk> splitOnAddedTokens(String text) {
        List<Chunk> chunks = new ArrayList<>();
        Matcher m = addedTokenPattern.matcher(text);
        int plainStart = 0;
        while (m.find()) {
            if (m.start() > plainStart) chunks.add(new Chunk(text.substring(plainStart, m.start()), false));
            chunks.add(new Chunk(m.group(), true));
            plainStart = m.end();
        }
        if (plainStart < text.length()) chunks.add(new Chunk(text.substring(plainStart), false));
        for (int i = 0; i < chunks.size(); i++) {
            Chunk c = chunks.get(i);
            if (!c.added || !stripsWhitespace.get(c.text)) continue;
            if (i > 0 && !chunks.get(i - 1).added) chunks.get(i - 1).text = stripTrailing(chunks.get(i - 1).text);
            if (i + 1 < chunks.size() && !chunks.get(i + 1).added) chunks.get(i + 1).text = stripLeading(chunks.get(i + 1).text);
        }
        return chunks;
    }

    private static String stripLeading(String s) {
        int i = 0;
        while (i < s.length() && isPythonSpace(s.codePointAt(i))) i += Character.charCount(s.codePointAt(i));
        return s.substring(i);
    }

    private static String stripTrailing(String s) {
        int end = s.length();
        while (end > 0 && isPythonSpace(s.codePointBefore(end))) end -= Character.charCount(s.codePointBefore(end));
        return s.substring(0, end);
    }

    /** Python's {@code str.isspace} for one character, which {@code str.strip} uses. */
    private static boolean isPythonSpace(int cp) {
        return Character.isWhitespace(cp) || Character.isSpaceChar(cp) || cp == 0x85;
    }

    /** Loaded on first use, then shared. */
    private static final class Bundled {
        static final T5Tokenizer INSTANCE = load();

        private static T5Tokenizer load() {
            try (InputStream in = T5Tokenizer.class.getResourceAsStream(BUNDLED)) {
                if (in == null) throw new IllegalStateException("missing resource " + BUNDLED + " next to T5Tokenizer");
                return new T5Tokenizer(SentencePieceEncoder.read(in.readAllBytes(), "bundled T5 vocabulary"), "bundled T5 vocabulary");
            } catch (IOException e) {
                throw new UncheckedIOException("cannot read the bundled T5 vocabulary", e);
            }
        }
    }
}
