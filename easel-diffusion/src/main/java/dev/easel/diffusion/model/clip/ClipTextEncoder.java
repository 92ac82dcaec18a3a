package dev.easel.diffusion.model.clip;

import dev.easel.diffusion.model.ComponentLoader;
import dev.easel.diffusion.tokenizer.ClipTokenizer;
import dev.easel.engine.runtime.OnnxModel;
import dev.easel.engine.runtime.RuntimeOptions;
import dev.easel.engine.tensor.FloatTensor;
import dev.easel.engine.tensor.LongTensor;
import dev.easel.engine.weights.WeightSource;

import java.util.Map;

/** A tokenizer and a CLIP text transformer: prompt in, hidden states out. */
public final class ClipTextEncoder implements AutoCloseable {
    private final ClipTokenizer tokenizer;
    private final int padId;
    private final ClipTextConfig config;
    private final OnnxModel model;

    public ClipTextEncoder(ClipTokenizer tokenizer, int padId, ClipTextConfig config, WeightSource weights,
                           String component, RuntimeOptions options) {
        this.tokenizer = tokenizer;
        this.padId = padId;
        this.config = config;
        this.model = ComponentLoader.load(component, ClipTextModel.graph(config), weights, options);
    }

    /** Everything one prompt produces; tensors have batch 1. */
    public record Output(long[] inputIds, FloatTensor lastHidden, FloatTensor penultimateHidden,
                         FloatTensor pooled, FloatTensor textEmbeds) {
    }

    public long[] tokenize(String prompt) {
        int[] ids = tokenizer.encode(prompt, padId);
        long[] out = new long[ids.length];
        for (int i = 0; i < ids.length; i++) out[i] = ids[i];
        return out;
    }

    public Output encode(String prompt) {
        long[] ids = tokenize(prompt);
        Map<String, FloatTensor> out = model.run(Map.of("input_ids", new LongTensor(new long[]{1, ids.length}, ids)));
        return new Output(ids, out.get("last_hidden_state"), out.get("penultimate_hidden_state"), out.get("pooled"),
                out.get("text_embeds"));
    }

    public ClipTextConfig config() {
        return config;
    }

    public long weightBytes() {
        return model.weightBytes();
    }

    @Override
    public void close() {
        model.close();
    }
}
