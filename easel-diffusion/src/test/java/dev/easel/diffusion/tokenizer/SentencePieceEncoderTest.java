package dev.easel.diffusion.tokenizer;

import dev.easel.diffusion.tokenizer.proto.SentencePieceModel.ModelProto;
import dev.easel.diffusion.tokenizer.proto.SentencePieceModel.TrainerSpec;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.InputStream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Reading SentencePiece model files: the bundled T5 model's known contents, and models we refuse. */
class SentencePieceEncoderTest {
    private static byte[] t5ModelBytes() throws IOException {
        try (InputStream in = T5Tokenizer.class.getResourceAsStream("t5/spiece.model")) {
            return in.readAllBytes();
        }
    }

    @Test
    void readsTheT5Vocabulary() throws IOException {
        SentencePieceEncoder sp = SentencePieceEncoder.read(t5ModelBytes(), "t5");
        assertThat(sp.size()).isEqualTo(32000);
        assertThat(sp.piece(0)).isEqualTo("<pad>");
        assertThat(sp.piece(1)).isEqualTo("</s>");
        assertThat(sp.piece(2)).isEqualTo("<unk>");
        assertThat(sp.piece(3)).isEqualTo("▁");
        assertThat(sp.piece(8)).isEqualTo("▁the");
        assertThat(sp.pieceId("▁the")).isEqualTo(8);
        assertThat(sp.pieceId("no such piece")).isEqualTo(2);
        assertThat(sp.padId()).isZero();
        assertThat(sp.eosId()).isEqualTo(1);
        assertThat(sp.unkId()).isEqualTo(2);
    }

    @Test
    void encodesToPiecesWithIds() throws IOException {
        SentencePieceEncoder sp = SentencePieceEncoder.read(t5ModelBytes(), "t5");
        assertThat(sp.encode("the  the")).extracting(UnigramModel.Segment::text).containsExactly("▁the", "▁the");
        assertThat(sp.encode("the")).extracting(UnigramModel.Segment::id).containsExactly(8);
        assertThat(sp.encode(" ")).isEmpty();
    }

    @Test
    void refusesWhatItCannotTokenizeFaithfully() throws IOException {
        ModelProto t5 = ModelProto.parseFrom(t5ModelBytes());
        byte[] bpe = t5.toBuilder().setTrainerSpec(t5.getTrainerSpec().toBuilder().setModelType(TrainerSpec.ModelType.BPE)).build().toByteArray();
        assertThatThrownBy(() -> SentencePieceEncoder.read(bpe, "bpe")).hasMessageContaining("BPE");
        byte[] byteFallback = t5.toBuilder().setTrainerSpec(t5.getTrainerSpec().toBuilder().setByteFallback(true)).build().toByteArray();
        assertThatThrownBy(() -> SentencePieceEncoder.read(byteFallback, "bf")).hasMessageContaining("byte fallback");
        assertThatThrownBy(() -> SentencePieceEncoder.read(new byte[]{(byte) 0xff, 1, 2}, "junk"))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("junk");
    }
}
