package dev.easel.diffusion.tokenizer;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * SentencePiece's unigram segmentation of a normalised text: the split into vocabulary pieces whose
 * scores (log probabilities) sum highest, found by Viterbi over the text's characters.
 *
 * <p>Details that decide ties and unknown text, as SentencePiece's encoder has them:
 * <ul>
 *   <li>Scores add up in float. Candidates are visited by start position, then by length, shortest
 *       first; a later candidate replaces the best path into a position only with a strictly higher
 *       score.</li>
 *   <li>Where no piece of exactly one character starts at a position, that character can be taken as
 *       the unknown piece, scored as the lowest normal piece's score minus 10.</li>
 *   <li>User-defined pieces score (their UTF-8 length x the highest normal score - 0.1), so that they are
 *       always taken whole; unused pieces are never taken.</li>
 *   <li>Consecutive unknown pieces are merged into one.</li>
 * </ul>
 */
final class UnigramModel {
    /** SentencePiece's penalty of the unknown piece below the lowest score. */
    private static final float UNK_PENALTY = 10.0f;

    /** The kinds of piece that matter to segmentation. */
    enum Kind { NORMAL, USER_DEFINED, UNUSED, SPECIAL }

    /** One vocabulary entry; SPECIAL covers control, unknown and byte pieces, which text never matches. */
    record Piece(String text, float score, Kind kind) {
    }

    /** One piece of a segmentation: the normalised text it covers and its id. */
    record Segment(String text, int id) {
    }

    private final PieceTrie segmentable;
    private final float[] scores;
    private final double[] userDefinedScores;
    private final boolean[] userDefined;
    private final int unkId;
    private final float unkScore;

    UnigramModel(List<Piece> pieces, int unkId) {
        if (unkId < 0 || unkId >= pieces.size()) throw new IllegalArgumentException("unknown piece id " + unkId + " is not in the vocabulary");
        this.unkId = unkId;
        scores = new float[pieces.size()];
        userDefinedScores = new double[pieces.size()];
        userDefined = new boolean[pieces.size()];
        float min = Float.MAX_VALUE;
        float max = Float.MIN_NORMAL; // as SentencePiece (C's FLT_MIN): the smallest positive normal float
        for (Piece p : pieces) {
            if (p.kind() == Kind.NORMAL) {
                min = Math.min(min, p.score());
                max = Math.max(max, p.score());
            }
        }
        int totalChars = 0;
        for (Piece p : pieces) totalChars += p.text().length();
        segmentable = new PieceTrie(totalChars);
        for (int id = 0; id < pieces.size(); id++) {
            Piece p = pieces.get(id);
            scores[id] = p.score();
            if (p.kind() == Kind.NORMAL || p.kind() == Kind.USER_DEFINED) {
                segmentable.add(p.text(), id);
            }
            if (p.kind() == Kind.USER_DEFINED) {
                userDefined[id] = true;
                userDefinedScores[id] = p.text().getBytes(StandardCharsets.UTF_8).length * (double) max - 0.1;
            }
        }
        unkScore = min - UNK_PENALTY;
    }

    /** The best segmentation of {@code normalized} (empty for an empty text). */
    List<Segment> segment(String normalized) {
        int n = normalized.length();
        float[] best = new float[n + 1];
        int[] from = new int[n + 1];
        int[] ids = new int[n + 1];
        Arrays.fill(from, -1);
        for (int start = 0; start < n; ) {
            int charLength = Character.charCount(normalized.codePointAt(start));
            float here = best[start];
            boolean hasSingleChar = false;
            int node = PieceTrie.root();
            for (int end = start + 1; end <= n; end++) {
                node = segmentable.child(node, normalized.charAt(end - 1));
                if (node < 0) break;
                int id = segmentable.pieceAt(node);
                if (id < 0) continue;
                if (userDefined[id]) {
                    double candidate = userDefinedScores[id] + here;
                    if (from[end] == -1 || candidate > best[end]) set(best, from, ids, end, (float) candidate, start, id);
                } else {
                    float candidate = scores[id] + here;
                    if (from[end] == -1 || candidate > best[end]) set(best, from, ids, end, candidate, start, id);
                }
                if (end - start == charLength) hasSingleChar = true;
            }
            if (!hasSingleChar) {
                int end = start + charLength;
                float candidate = unkScore + here;
                if (from[end] == -1 || candidate > best[end]) set(best, from, ids, end, candidate, start, unkId);
            }
            start += charLength;
        }
        return backtrack(normalized, from, ids);
    }

    private static void set(float[] best, int[] from, int[] ids, int end, float score, int start, int id) {
        best[end] = score;
        from[end] = start;
        ids[end] = id;
    }

    private List<Segment> backtrack(String normalized, int[] from, int[] ids) {
        List<Segment> reversed = new ArrayList<>();
        for (int end = normalized.length(); end > 0; end = from[end]) {
            reversed.add(new Segment(normalized.substring(from[end], end), ids[end]));
        }
        List<Segment> segments = new ArrayList<>(reversed.size());
        for (int i = reversed.size() - 1; i >= 0; i--) {
            Segment s = reversed.get(i);
            int lastIndex = segments.size() - 1;
            if (s.id() == unkId && lastIndex >= 0 && segments.get(lastIndex).id() == unkId) {
                segments.set(lastIndex, new Segment(segments.get(lastIndex).text() + s.text(), unkId));
            } else {
                segments.add(s);
            }
        }
        return segments;
    }
}
