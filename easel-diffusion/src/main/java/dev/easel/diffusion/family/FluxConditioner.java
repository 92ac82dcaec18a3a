package dev.easel.diffusion.family;

import dev.easel.diffusion.model.clip.ClipTextEncoder;
import dev.easel.diffusion.model.flux.FluxDenoiser;
import dev.easel.diffusion.model.t5.T5TextEncoder;
import dev.easel.diffusion.pipeline.Batching;
import dev.easel.diffusion.pipeline.Guidance;
import dev.easel.diffusion.pipeline.LatentFormat;
import dev.easel.diffusion.pipeline.PipelineTrace;
import dev.easel.diffusion.pipeline.PromptConditioner;
import dev.easel.diffusion.tokenizer.T5Tokenizer;
import dev.easel.engine.tensor.FloatTensor;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * FLUX.1 conditioning: T5's hidden states (the prompt padded to the variant's token count) as the sequence the
 * transformer attends to, CLIP-L's pooled output as the global vector, the position ids of text (zeros) and image
 * tokens (0, row, column of each 2x2 patch), and, for guidance-distilled models, the guidance scale. FLUX.1 has no
 * classifier-free guidance, so a negative prompt is not used (as in the reference pipeline). Every input has the
 * batch on its first axis, the ids too (the same rows repeated), so that requests merge like any others. T5 may be
 * loaded only while it encodes ({@link EncoderSlot}), and CLIP-L likewise.
 */
public final class FluxConditioner implements PromptConditioner {
    private static final int PATCH = 2;

    private final EncoderSlot<ClipTextEncoder> clip;
    private final T5Tokenizer t5Tokenizer;
    private final EncoderSlot<T5TextEncoder> t5;
    private final int textTokens;

    public FluxConditioner(EncoderSlot<ClipTextEncoder> clip, T5Tokenizer t5Tokenizer, EncoderSlot<T5TextEncoder> t5, int textTokens) {
        this.clip = clip;
        this.t5Tokenizer = t5Tokenizer;
        this.t5 = t5;
        this.textTokens = textTokens;
    }

    @Override
    public Map<String, FloatTensor> condition(String prompt, String negativePrompt, int imageCount, Guidance guidance,
                                              int width, int height, PipelineTrace trace) {
        // one encoder after the other: where they are loaded for each prompt, CLIP-L is closed before T5 loads
        ClipTextEncoder.Output pooled = clip.use(encoder -> encoder.encode(prompt));
        long[] ids = toLongs(t5Tokenizer.encode(prompt, textTokens));
        FloatTensor hidden = t5.use(encoder -> encoder.encode(ids));
        if (trace.enabled()) {
            trace.record("text.prompt.clip_l.input_ids", ClipConditioner.ids(pooled.inputIds()));
            trace.record("text.prompt.clip_l.pooled", pooled.pooled());
            trace.record("text.prompt.t5.input_ids", ClipConditioner.ids(ids));
            trace.record("text.prompt.t5.last_hidden_state", hidden);
            trace.record("text.prompt_embeds", hidden);
            trace.record("text.pooled_prompt_embeds", pooled.pooled());
        }
        Map<String, FloatTensor> inputs = new LinkedHashMap<>();
        inputs.put(FluxDenoiser.ENCODER_HIDDEN_STATES, Batching.repeat(hidden, imageCount));
        inputs.put(FluxDenoiser.POOLED_PROJECTIONS, Batching.repeat(pooled.pooled(), imageCount));
        inputs.put(FluxDenoiser.IMG_IDS, Batching.repeat(imageIds(width, height), imageCount));
        inputs.put(FluxDenoiser.TXT_IDS, Batching.repeat(new FloatTensor(new long[]{1, ids.length, 3}, new float[ids.length * 3]), imageCount));
        if (guidance instanceof Guidance.Embedded(float scale)) {
            float[] g = new float[imageCount];
            java.util.Arrays.fill(g, scale);
            inputs.put(FluxDenoiser.GUIDANCE, new FloatTensor(new long[]{imageCount}, g));
        }
        inputs.forEach((name, value) -> trace.record("model_in." + name, value));
        return inputs;
    }

    /** (0, row, column) of each packed 2x2 patch of the latent image, row-major: shape (1, tokens, 3). */
    static FloatTensor imageIds(int width, int height) {
        int rows = height / (LatentFormat.VAE_SCALE * PATCH);
        int cols = width / (LatentFormat.VAE_SCALE * PATCH);
        float[] ids = new float[rows * cols * 3];
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) {
                int token = r * cols + c;
                ids[token * 3 + 1] = r;
                ids[token * 3 + 2] = c;
            }
        }
        return new FloatTensor(new long[]{1, (long) rows * cols, 3}, ids);
    }

    private static long[] toLongs(int[] ids) {
        long[] out = new long[ids.length];
        for (int i = 0; i < ids.length; i++) out[i] = ids[i];
        return out;
    }

    /** CLIP-L's and T5's weights, counted also when they are loaded only for encoding (they need the room then). */
    @Override
    public long weightBytes() {
        return clip.weightBytes() + t5.weightBytes();
    }

    @Override
    public void close() {
        try {
            clip.close();
        } finally {
            t5.close();
        }
    }
}
