package dev.easel.diffusion.model.unet;

import dev.easel.diffusion.model.ComponentLoader;
import dev.easel.diffusion.pipeline.Denoiser;
import dev.easel.engine.runtime.OnnxModel;
import dev.easel.engine.runtime.RuntimeOptions;
import dev.easel.engine.tensor.FloatTensor;
import dev.easel.engine.weights.WeightSource;

import java.util.HashMap;
import java.util.Map;

/** The UNet as one call: noisy sample, timestep and conditioning in, model output out. */
public final class UNetDenoiser implements Denoiser {
    private final UNetConfig config;
    private final OnnxModel model;

    public UNetDenoiser(UNetConfig config, WeightSource weights, RuntimeOptions options) {
        this.config = config;
        this.model = ComponentLoader.load("unet", UNet2DCondition.graph(config, options.linears()), weights, options);
    }

    /**
     * @param conditioning encoder_hidden_states (and SDXL's text_embeds, time_ids), batch-aligned with sample
     */
    @Override
    public FloatTensor predict(FloatTensor sample, float timestep, Map<String, FloatTensor> conditioning) {
        int batch = (int) sample.dim(0);
        float[] t = new float[batch];
        java.util.Arrays.fill(t, timestep);
        Map<String, Object> inputs = new HashMap<>(conditioning);
        inputs.put("sample", sample);
        inputs.put("timestep", new FloatTensor(new long[]{batch}, t));
        return model.runSingle(inputs);
    }

    @Override
    public String sampleName() {
        return "sample";
    }

    public UNetConfig config() {
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
