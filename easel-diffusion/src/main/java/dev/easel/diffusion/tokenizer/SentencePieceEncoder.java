package dev.easel.diffusion.tokenizer;

import com.google.protobuf.InvalidProtocolBufferException;
import dev.easel.diffusion.tokenizer.proto.SentencePieceModel.ModelProto;
import dev.easel.diffusion.tokenizer.proto.SentencePieceModel.NormalizerSpec;
import dev.easel.diffusion.tokenizer.proto.SentencePieceModel.TrainerSpec;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * A SentencePiece unigram model file ({@code spiece.model}, a serialized {@code ModelProto}) and its
 * encoder: normalise ({@link SentencePieceNormalizer}), then segment ({@link UnigramModel}). What
 * {@code SentencePieceProcessor.encode(text, out_type=str)} gives, as pieces with their ids.
 *
 * <p>Only what T5-style models use is supported: unigram models without byte fallback, whitespace as a
 * prefix. Other model files are refused rather than tokenised differently.
 */
final class SentencePieceEncoder {
    private final List<String> pieces;
    private final Map<String, Integer> ids;
    private final SentencePieceNormalizer normalizer;
    private final UnigramModel model;
    private final TrainerSpec trainer;

    private SentencePieceEncoder(List<String> pieces, SentencePieceNormalizer normalizer, UnigramModel model,
                                 TrainerSpec trainer) {
        this.pieces = List.copyOf(pieces);
        this.ids = new HashMap<>();
        for (int id = 0; id < pieces.size(); id++) ids.putIfAbsent(pieces.get(id), id);
        this.normalizer = normalizer;
        this.model = model;
        this.trainer = trainer;
    }

    /** Parses a model file's bytes; {@code source} names it in errors. */
    static SentencePieceEncoder read(byte[] modelFile, String source) {
        ModelProto proto;
        try {
            proto = ModelProto.parseFrom(modelFile);
        } catch (InvalidProtocolBufferException e) {
            throw new IllegalArgumentException(source + ": not a SentencePiece model file", e);
        }
        TrainerSpec trainer = proto.getTrainerSpec();
        if (trainer.getModelType() != TrainerSpec.ModelType.UNIGRAM) {
            throw new IllegalArgumentException(source + ": " + trainer.getModelType() + " models are not supported, only UNIGRAM");
        }
        if (trainer.getByteFallback()) throw new IllegalArgumentException(source + ": byte fallback is not supported");
        if (trainer.getTreatWhitespaceAsSuffix()) throw new IllegalArgumentException(source + ": whitespace as a suffix is not supported");
        if (proto.getPiecesCount() == 0) throw new IllegalArgumentException(source + ": the model has no pieces");

        List<String> texts = new ArrayList<>(proto.getPiecesCount());
        List<UnigramModel.Piece> pieces = new ArrayList<>(proto.getPiecesCount());
        List<String> userDefined = new ArrayList<>();
        for (ModelProto.SentencePiece p : proto.getPiecesList()) {
            UnigramModel.Kind kind = switch (p.getType()) {
                case NORMAL -> UnigramModel.Kind.NORMAL;
                case USER_DEFINED -> UnigramModel.Kind.USER_DEFINED;
                case UNUSED -> UnigramModel.Kind.UNUSED;
                case UNKNOWN, CONTROL, BYTE -> UnigramModel.Kind.SPECIAL;
            };
            if (kind == UnigramModel.Kind.USER_DEFINED) userDefined.add(p.getPiece());
            texts.add(p.getPiece());
            pieces.add(new UnigramModel.Piece(p.getPiece(), p.getScore(), kind));
        }
        NormalizerSpec spec = proto.getNormalizerSpec();
        PrecompiledCharsMap charsMap = spec.getPrecompiledCharsmap().isEmpty()
                ? null
                : PrecompiledCharsMap.decode(spec.getPrecompiledCharsmap().toByteArray());
        SentencePieceNormalizer normalizer = new SentencePieceNormalizer(charsMap, userDefined,
                spec.getAddDummyPrefix(), spec.getRemoveExtraWhitespaces(), spec.getEscapeWhitespaces());
        return new SentencePieceEncoder(texts, normalizer, new UnigramModel(pieces, trainer.getUnkId()), trainer);
    }

    /** The normalised text the segmentation works on (spaces as {@code ▁}). */
    String normalize(String text) {
        return normalizer.normalize(text);
    }

    /** The pieces of {@code text}; a run of unknown characters is one piece with the unknown id. */
    List<UnigramModel.Segment> encode(String text) {
        String normalized = normalizer.normalize(text);
        return normalized.isEmpty() ? List.of() : model.segment(normalized);
    }

    /** The id of a piece's text, or the unknown id (SentencePiece's {@code piece_to_id}). */
    int pieceId(String piece) {
        return ids.getOrDefault(piece, unkId());
    }

    String piece(int id) {
        return pieces.get(id);
    }

    int size() {
        return pieces.size();
    }

    int unkId() {
        return trainer.getUnkId();
    }

    /** The end-of-sequence id, -1 where the model has none. */
    int eosId() {
        return trainer.getEosId();
    }

    /** The padding id, -1 where the model has none. */
    int padId() {
        return trainer.getPadId();
    }
}
