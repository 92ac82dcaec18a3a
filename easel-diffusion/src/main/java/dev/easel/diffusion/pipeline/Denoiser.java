package dev.easel.diffusion.pipeline;

import dev.easel.engine.tensor.FloatTensor;

import java.util.Map;

/** One call of the denoising network. */
public interface Denoiser extends AutoCloseable {
    FloatTensor predict(FloatTensor sample, float timestep, Map<String, FloatTensor> conditioning);

    /** The name of the network's latent input ({@code sample} for UNets, {@code hidden_states} for FLUX.1). */
    String sampleName();

    long weightBytes();

    @Override
    void close();
}
