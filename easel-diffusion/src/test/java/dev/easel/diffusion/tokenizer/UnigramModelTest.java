package dev.easel.diffusion.tokenizer;

import dev.easel.diffusion.tokenizer.UnigramModel.Kind;
import dev.easel.diffusion.tokenizer.UnigramModel.Piece;
import dev.easel.diffusion.tokenizer.UnigramModel.Segment;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** Viterbi segmentation on hand-made vocabularies whose best paths are worked out by hand. */
class UnigramModelTest {
    private static final int UNK = 0;

    /** A vocabulary: id 0 is {@code <unk>}, then the given pieces in order (ids 1, 2, ...). */
    private static UnigramModel model(Piece... pieces) {
        List<Piece> all = new ArrayList<>();
        all.add(new Piece("<unk>", 0, Kind.SPECIAL));
        all.addAll(List.of(pieces));
        return new UnigramModel(all, UNK);
    }

    private static Piece normal(String text, float score) {
        return new Piece(text, score, Kind.NORMAL);
    }

    @Test
    void takesTheSplitWithTheHighestTotalScore() {
        // "▁ab": ▁ab = -4 beats ▁ + ab = -4.5 and ▁a + b = -6.
        UnigramModel m = model(normal("▁", -2), normal("a", -3), normal("b", -3), normal("▁ab", -4),
                normal("ab", -2.5f), normal("▁a", -3));
        assertThat(m.segment("▁ab")).containsExactly(new Segment("▁ab", 4));
        // With ▁ab at -5, ▁ + ab (-4.5) is best.
        UnigramModel m2 = model(normal("▁", -2), normal("a", -3), normal("b", -3), normal("▁ab", -5),
                normal("ab", -2.5f), normal("▁a", -3));
        assertThat(m2.segment("▁ab")).containsExactly(new Segment("▁", 1), new Segment("ab", 5));
    }

    @Test
    void onATieTheFirstPathFoundWins() {
        // ▁ + ab and ▁a + b both total -3 exactly; candidates are visited by start position, so the
        // path through "ab" (which starts earlier) reaches the end first and a later equal score does not replace it.
        UnigramModel m = model(normal("▁", -1), normal("ab", -2), normal("▁a", -1.5f), normal("b", -1.5f), normal("a", -9));
        assertThat(m.segment("▁ab")).containsExactly(new Segment("▁", 1), new Segment("ab", 2));
    }

    @Test
    void unknownCharactersBecomeOneUnknownPiecePerRun() {
        UnigramModel m = model(normal("▁", -1), normal("a", -2));
        assertThat(m.segment("▁xxa")).containsExactly(new Segment("▁", 1), new Segment("xx", UNK), new Segment("a", 2));
        assertThat(m.segment("▁x▁y")).containsExactly(new Segment("▁", 1), new Segment("x", UNK),
                new Segment("▁", 1), new Segment("y", UNK));
    }

    @Test
    void aCharacterOutsideTheBasicPlaneIsOneUnknownCharacter() {
        UnigramModel m = model(normal("▁", -1), normal("a", -2));
        assertThat(m.segment("▁😀a")).containsExactly(new Segment("▁", 1), new Segment("😀", UNK), new Segment("a", 2));
    }

    @Test
    void aCharacterWithoutASingleCharacterPieceCanStillStartALongerPiece() {
        // No piece "x", but "xy": "▁xy" is ▁ + xy; in "▁xz" the x is unknown (and merges with the unknown z).
        UnigramModel m = model(normal("▁", -1), normal("xy", -3), normal("y", -2));
        assertThat(m.segment("▁xy")).containsExactly(new Segment("▁", 1), new Segment("xy", 2));
        assertThat(m.segment("▁xz")).containsExactly(new Segment("▁", 1), new Segment("xz", UNK));
    }

    @Test
    void theUnknownPieceScoresTenBelowTheLowestNormalPiece() {
        // Lowest normal score -3 ("a"), so an unknown q costs -13. In "qaaaaa": unknown q + aaaaa = -14;
        // qa + a + a + a + a = qa - 12. With qa at -3 (-15) the unknown path wins, with qa at -1.5 (-13.5) it loses.
        UnigramModel dearQa = model(normal("a", -3), normal("aaaaa", -1), normal("qa", -3));
        assertThat(dearQa.segment("qaaaaa")).containsExactly(new Segment("q", UNK), new Segment("aaaaa", 2));
        UnigramModel cheapQa = model(normal("a", -3), normal("aaaaa", -1), normal("qa", -1.5f));
        assertThat(cheapQa.segment("qaaaaa")).extracting(Segment::text).containsExactly("qa", "a", "a", "a", "a");
    }

    @Test
    void userDefinedPiecesAreTakenWholeAndUnusedOnesNever() {
        // <sep> is user-defined with a poor stored score, yet beats its well-scored characters; "ab" is unused.
        UnigramModel m = model(normal("▁", -1), normal("a", -1), normal("b", -1), new Piece("ab", 0, Kind.UNUSED),
                new Piece("<sep>", -100, Kind.USER_DEFINED), normal("<", -0.5f), normal("s", -0.5f), normal("e", -0.5f),
                normal("p", -0.5f), normal(">", -0.5f), normal("<s", -0.1f));
        assertThat(m.segment("▁a<sep>b")).containsExactly(new Segment("▁", 1), new Segment("a", 2),
                new Segment("<sep>", 5), new Segment("b", 3));
        assertThat(m.segment("ab")).containsExactly(new Segment("a", 2), new Segment("b", 3));
    }

    @Test
    void anEmptyTextHasNoPieces() {
        assertThat(model(normal("▁", -1)).segment("")).isEmpty();
    }
}
