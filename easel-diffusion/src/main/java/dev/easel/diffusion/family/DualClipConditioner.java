package dev.easel.diffusion.family;

import dev.easel.diffusion.model.clip.ClipTextEncoder;
import dev.easel.diffusion.pipeline.Batching;
import dev.easel.diffusion.pipeline.Guidance;
import dev.easel.diffusion.pipeline.PipelineTrace;
import dev.easel.diffusion.pipeline.PromptConditioner;
import dev.easel.engine.tensor.FloatTensor;

import java.util.Map;

/**
 * SDXL conditioning (diffusers' {@code StableDiffusionXLPipeline.encode_prompt}):
 * <ul>
 *   <li>{@code encoder_hidden_states}: the penultimate hidden states (hidden_states[-2], no final LayerNorm) of
 *       CLIP-L and of OpenCLIP-G, concatenated on features (768 + 1280 = 2048 in SDXL);</li>
 *   <li>{@code text_embeds}: CLIP-G's pooled output (final-LayerNorm state at EOS) through its projection;</li>
 *   <li>{@code time_ids}: (original height, original width, crop top, crop left, target height, target width)
 *       = (H, W, 0, 0, H, W), the same for both halves of a guidance batch.</li>
 * </ul>
 * With guidance and no negative prompt the negative embeddings and pooled embedding are zeros
 * ({@code force_zeros_for_empty_prompt}, set in every released SDXL base); a negative prompt, even an empty
 * string, is encoded like the prompt.
 */
public final class DualClipConditioner implements PromptConditioner {
    private final EncoderSlot<Encoders> encoders;

    /**
     * SDXL's two text encoders, used together.
     *
     * @param clipL CLIP ViT-L text encoder (tokenizer padding with EOS)
     * @param clipG OpenCLIP ViT-bigG text encoder with its projection (tokenizer padding with "!", id 0)
     */
    public record Encoders(ClipTextEncoder clipL, ClipTextEncoder clipG) implements AutoCloseable {
        public Encoders {
            if (clipG.config().projectionDim() <= 0) {
                throw new IllegalArgumentException("SDXL's second text encoder needs its text_projection (pooled text_embeds)");
            }
        }

        public long weightBytes() {
            return clipL.weightBytes() + clipG.weightBytes();
        }

        @Override
        public void close() {
            try {
                clipL.close();
            } finally {
                clipG.close();
            }
        }
    }

    /** The encoders kept loaded or loaded for each prompt ({@link EncoderSlot}). */
    public DualClipConditioner(EncoderSlot<Encoders> encoders) {
        this.encoders = encoders;
    }

    private record Encoded(FloatTensor hidden, FloatTensor pooled) {
    }

    @Override
    public Map<String, FloatTensor> condition(String prompt, String negativePrompt, int imageCount, Guidance guidance,
                                              int width, int height, PipelineTrace trace) {
        boolean classifierFree = guidance.classifierFree();
        // The prompt and the negative prompt in one use: an encoder loaded for the prompt is loaded once.
        boolean encodeNegative = classifierFree && negativePrompt != null;
        Encoded[] encoded = encoders.use(e -> new Encoded[]{encode(e, "prompt", prompt, trace),
                encodeNegative ? encode(e, "negative_prompt", negativePrompt, trace) : null});
        Encoded positive = encoded[0];
        trace.record("text.prompt_embeds", positive.hidden());
        trace.record("text.pooled_prompt_embeds", positive.pooled());
        Encoded negative = null;
        if (classifierFree) {
            negative = negativePrompt == null
                    ? new Encoded(FloatTensor.zeros(positive.hidden().shape()), FloatTensor.zeros(positive.pooled().shape()))
                    : encoded[1];
            trace.record("text.negative_prompt_embeds", negative.hidden());
            trace.record("text.negative_pooled_prompt_embeds", negative.pooled());
        }
        FloatTensor context = Batching.guidanceBatch(classifierFree ? negative.hidden() : null, positive.hidden(), imageCount, classifierFree);
        FloatTensor textEmbeds = Batching.guidanceBatch(classifierFree ? negative.pooled() : null, positive.pooled(), imageCount, classifierFree);
        FloatTensor timeIds = Batching.repeat(new FloatTensor(new long[]{1, 6}, new float[]{height, width, 0, 0, height, width}),
                (int) context.dim(0));
        trace.record("model_in.encoder_hidden_states", context);
        trace.record("model_in.text_embeds", textEmbeds);
        trace.record("model_in.time_ids", timeIds);
        return Map.of("encoder_hidden_states", context, "text_embeds", textEmbeds, "time_ids", timeIds);
    }

    private static Encoded encode(Encoders e, String role, String text, PipelineTrace trace) {
        ClipTextEncoder.Output l = e.clipL().encode(text);
        ClipTextEncoder.Output g = e.clipG().encode(text);
        if (trace.enabled()) {
            trace.record("text." + role + ".clip_l.input_ids", ClipConditioner.ids(l.inputIds()));
            trace.record("text." + role + ".clip_l.penultimate_hidden_state", l.penultimateHidden());
            trace.record("text." + role + ".clip_g.input_ids", ClipConditioner.ids(g.inputIds()));
            trace.record("text." + role + ".clip_g.penultimate_hidden_state", g.penultimateHidden());
            trace.record("text." + role + ".clip_g.text_embeds", g.textEmbeds());
        }
        return new Encoded(concatFeatures(l.penultimateHidden(), g.penultimateHidden()), g.textEmbeds());
    }

    /** (B, T, a) and (B, T, b) to (B, T, a + b). */
    static FloatTensor concatFeatures(FloatTensor a, FloatTensor b) {
        if (a.rank() != 3 || b.rank() != 3 || a.dim(0) != b.dim(0) || a.dim(1) != b.dim(1)) {
            throw new IllegalArgumentException("cannot concatenate " + a + " and " + b + " on features");
        }
        int rows = (int) (a.dim(0) * a.dim(1));
        int wa = (int) a.dim(2);
        int wb = (int) b.dim(2);
        float[] out = new float[rows * (wa + wb)];
        for (int r = 0; r < rows; r++) {
            System.arraycopy(a.data(), r * wa, out, r * (wa + wb), wa);
            System.arraycopy(b.data(), r * wb, out, r * (wa + wb) + wa, wb);
        }
        return new FloatTensor(new long[]{a.dim(0), a.dim(1), wa + wb}, out);
    }

    /** Both encoders' weights, counted also when they are loaded only for encoding (they need the room then). */
    @Override
    public long weightBytes() {
        return encoders.weightBytes();
    }

    @Override
    public void close() {
        encoders.close();
    }
}
