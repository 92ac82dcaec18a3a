package dev.easel.diffusion.model.flux;

import dev.easel.diffusion.model.ComponentLoader;
import dev.easel.diffusion.pipeline.Denoiser;
import dev.easel.engine.runtime.OnnxModel;
import dev.easel.engine.runtime.RuntimeOptions;
import dev.easel.engine.tensor.FloatTensor;
import dev.easel.engine.weights.WeightSource;

import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;

/**
 * The FLUX.1 transformer as one call: packed latents, sigma and the text conditioning in, velocity out.
 * The rotary tables are made here from the position ids (and kept while the ids stay the same).
 */
public final class FluxDenoiser implements Denoiser {
    public static final String ENCODER_HIDDEN_STATES = "encoder_hidden_states";
    public static final String POOLED_PROJECTIONS = "pooled_projections";
    public static final String IMG_IDS = "img_ids";
    public static final String TXT_IDS = "txt_ids";
    public static final String GUIDANCE = "guidance";

    private final FluxConfig config;
    private final OnnxModel model;
    private FloatTensor ropeTxtIds;
    private FloatTensor ropeImgIds;
    private FluxRope rope;

    public FluxDenoiser(FluxConfig config, WeightSource weights, RuntimeOptions options) {
        this.config = config;
        this.model = ComponentLoader.load("transformer", FluxTransformer.graph(config, options.linears()), weights, options);
    }

    /**
     * @param sample       packed latents (B, image tokens, 64)
     * @param timestep     sigma (the model multiplies it by 1000)
     * @param conditioning {@code encoder_hidden_states} (B, text tokens, context), {@code pooled_projections} (B, pooled),
     *                     {@code img_ids} (image tokens, 3), {@code txt_ids} (text tokens, 3) (ids may carry a leading
     *                     batch axis of 1), and for FLUX.1-dev {@code guidance}: the guidance scale, (B) or (1)
     */
    @Override
    public FloatTensor predict(FloatTensor sample, float timestep, Map<String, FloatTensor> conditioning) {
        int batch = Math.toIntExact(sample.dim(0));
        Map<String, Object> inputs = new HashMap<>();
        inputs.put("hidden_states", sample);
        inputs.put("timestep", filled(batch, timestep));
        inputs.put(ENCODER_HIDDEN_STATES, required(conditioning, ENCODER_HIDDEN_STATES));
        inputs.put(POOLED_PROJECTIONS, required(conditioning, POOLED_PROJECTIONS));
        if (config.guidanceEmbeds()) {
            FloatTensor guidance = required(conditioning, GUIDANCE);
            inputs.put(GUIDANCE, guidance.size() == 1 && batch != 1 ? filled(batch, guidance.data()[0]) : guidance);
        }
        FluxRope tables = rope(required(conditioning, TXT_IDS), required(conditioning, IMG_IDS));
        inputs.put("rope_cos", tables.cos());
        inputs.put("rope_sin", tables.sinSigned());
        return model.runSingle(inputs);
    }

    /** The same ids (by value) give the same tables: made once per generation, not once per step. */
    private synchronized FluxRope rope(FloatTensor txtIds, FloatTensor imgIds) {
        if (rope == null || !txtIds.equals(ropeTxtIds) || !imgIds.equals(ropeImgIds)) {
            rope = FluxRope.of(config, txtIds, imgIds);
            ropeTxtIds = txtIds;
            ropeImgIds = imgIds;
        }
        return rope;
    }

    private static FloatTensor required(Map<String, FloatTensor> conditioning, String name) {
        FloatTensor t = conditioning.get(name);
        if (t == null) {
            throw new IllegalArgumentException("the FLUX transformer needs '" + name + "' (given: "
                    + Arrays.toString(conditioning.keySet().stream().sorted().toArray()) + ")");
        }
        return t;
    }

    private static FloatTensor filled(int batch, float value) {
        float[] v = new float[batch];
        Arrays.fill(v, value);
        return new FloatTensor(new long[]{batch}, v);
    }

    @Override
    public String sampleName() {
        return "hidden_states";
    }

    public FluxConfig config() {
        return config;
    }

    @Override
    public long weightBytes() {
        return model.weightBytes();
    }

    @Override
    public void close() {
        model.close();
    }
}
