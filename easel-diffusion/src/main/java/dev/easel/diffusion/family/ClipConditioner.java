package dev.easel.diffusion.family;

import dev.easel.diffusion.model.clip.ClipTextEncoder;
import dev.easel.diffusion.pipeline.Batching;
import dev.easel.diffusion.pipeline.Guidance;
import dev.easel.diffusion.pipeline.PipelineTrace;
import dev.easel.diffusion.pipeline.PromptConditioner;
import dev.easel.engine.tensor.FloatTensor;

import java.util.Map;

/**
 * SD 1.x conditioning: CLIP-L's final hidden states; an absent negative prompt is the empty prompt.
 */
public final class ClipConditioner implements PromptConditioner {
    private final ClipTextEncoder clip;

    public ClipConditioner(ClipTextEncoder clip) {
        this.clip = clip;
    }

    @Override
    public Map<String, FloatTensor> condition(String prompt, String negativePrompt, int imageCount, Guidance guidance,
                                              int width, int height, PipelineTrace trace) {
        boolean classifierFree = guidance.classifierFree();
        FloatTensor positive = encode("prompt", prompt, trace);
        trace.record("text.prompt_embeds", positive);
        FloatTensor negative = null;
        if (classifierFree) {
            negative = encode("negative_prompt", negativePrompt == null ? "" : negativePrompt, trace);
            trace.record("text.negative_prompt_embeds", negative);
        }
        FloatTensor context = Batching.guidanceBatch(negative, positive, imageCount, classifierFree);
        trace.record("model_in.encoder_hidden_states", context);
        return Map.of("encoder_hidden_states", context);
    }

    private FloatTensor encode(String role, String text, PipelineTrace trace) {
        ClipTextEncoder.Output out = clip.encode(text);
        if (trace.enabled()) {
            trace.record("text." + role + ".clip_l.input_ids", ids(out.inputIds()));
            trace.record("text." + role + ".clip_l.last_hidden_state", out.lastHidden());
            trace.record("text." + role + ".clip_l.pooled", out.pooled());
        }
        return out.lastHidden();
    }

    static FloatTensor ids(long[] ids) {
        float[] f = new float[ids.length];
        for (int i = 0; i < ids.length; i++) f[i] = ids[i];
        return new FloatTensor(new long[]{1, ids.length}, f);
    }

    @Override
    public long weightBytes() {
        return clip.weightBytes();
    }

    @Override
    public void close() {
        clip.close();
    }
}
