package dev.easel.diffusion.convert;

import dev.easel.engine.weights.RenamedWeights;
import dev.easel.engine.weights.WeightSource;

import java.util.Map;
import java.util.TreeMap;

/**
 * A Hugging Face {@code CLIPTextModel} stored under a prefix of a single-file checkpoint
 * ({@code cond_stage_model.transformer.} in SD 1.x, {@code conditioner.embedders.0.transformer.} in SDXL):
 * the names are already those of transformers once the prefix is gone. Checkpoints saved with older
 * transformers versions lack the {@code text_model.} level, which is put back.
 */
public final class HfTextEncoderNames {
    private static final String TEXT_MODEL = "text_model.";

    private HfTextEncoderNames() {
    }

    public static RenamedWeights view(WeightSource checkpoint, String prefix) {
        Map<String, String> names = new TreeMap<>();
        for (String stripped : PrefixedKeys.under(checkpoint.names(), prefix)) {
            String canonical = stripped.startsWith(TEXT_MODEL) ? stripped : TEXT_MODEL + stripped;
            names.put(canonical, prefix + stripped);
        }
        return new RenamedWeights(checkpoint, "text encoder, transformers names", names, Map.of());
    }
}
