package dev.easel.diffusion.model.vae;

import dev.easel.diffusion.model.ComponentLoader;
import dev.easel.engine.graph.GraphBuilder;
import dev.easel.engine.runtime.OnnxModel;
import dev.easel.engine.runtime.RuntimeOptions;
import dev.easel.engine.runtime.SystemMemory;
import dev.easel.engine.tensor.FloatTensor;
import dev.easel.engine.weights.WeightSource;

import java.util.HashMap;
import java.util.Map;
import java.util.OptionalLong;

/**
 * The VAE as the pipelines use it. Both halves are loaded up front (the encoder is small), so the
 * checkpoint need not stay open after loading. Large latents are decoded in blended tiles ({@link VaeTiling})
 * to bound the decoder's memory.
 */
public final class VaeCodec implements AutoCloseable {
    private final VaeConfig config;
    private final OnnxModel decoder;
    private final OnnxModel encoder;
    private static final System.Logger LOG = System.getLogger(VaeCodec.class.getName());
    /** Null: tile only where the memory available requires it ({@link VaeTiling#forAvailableMemory}), decided per decode. */
    private volatile VaeTiling tiling;

    /** Decoding whole where the memory available allows it, in tiles where it does not. */
    public VaeCodec(VaeConfig config, WeightSource weights, RuntimeOptions options) {
        this(config, weights, options, null);
    }

    public VaeCodec(VaeConfig config, WeightSource weights, RuntimeOptions options, VaeTiling tiling) {
        this.config = config;
        this.tiling = tiling;
        // Both halves are checked together first, so one message lists every problem in the VAE.
        GraphBuilder decoderGraph = AutoencoderKL.decoder(config);
        GraphBuilder encoderGraph = AutoencoderKL.encoder(config);
        Map<String, long[]> parameters = new HashMap<>(encoderGraph.weights());
        parameters.putAll(decoderGraph.weights());
        ComponentLoader.validate("vae", parameters, weights);
        this.decoder = ComponentLoader.load("vae", decoderGraph, weights, options);
        try {
            this.encoder = ComponentLoader.load("vae", encoderGraph, weights, options);
        } catch (RuntimeException e) {
            decoder.close();
            throw e;
        }
    }

    public VaeConfig config() {
        return config;
    }

    /** Encoder outputs for an image batch in [-1, 1]: {@code encoder_out} and {@code moments}. */
    public Map<String, FloatTensor> encode(FloatTensor image) {
        return encoder.run(Map.of("image", image));
    }

    /**
     * Decodes un-scaled latents: {@code decoder_input} (after post_quant_conv) and {@code image}, about [-1, 1];
     * whole, or in tiles when the latents are larger than the tiling allows.
     */
    public Map<String, FloatTensor> decode(FloatTensor latents) {
        VaeTiling t = tiling;
        if (t == null) {
            OptionalLong available = SystemMemory.availableBytes();
            t = available.isPresent() ? VaeTiling.forAvailableMemory(available.getAsLong()) : VaeTiling.DEFAULT;
            if (t.tiles(latents.dim(2), latents.dim(3))) {
                LOG.log(System.Logger.Level.INFO, "decoding {0}x{1} latents in tiles: a whole decode needs about {2} MiB, more than "
                        + "the {3} MiB available", latents.dim(3), latents.dim(2),
                        latents.dim(2) * latents.dim(3) * VaeTiling.WHOLE_DECODE_BYTES_PER_LATENT >> 20, available.orElse(0) >> 20);
            }
        }
        return t.tiles(latents.dim(2), latents.dim(3)) ? decodeTiled(latents, t) : decodeWhole(latents);
    }

    /** The decoder on all the latents at once. */
    public Map<String, FloatTensor> decodeWhole(FloatTensor latents) {
        return decoder.run(Map.of("latent", latents));
    }

    /** The decoder tile by tile, the tiles blended ({@link TiledDecoding}). */
    public Map<String, FloatTensor> decodeTiled(FloatTensor latents, VaeTiling tiles) {
        return TiledDecoding.decode(latents, tiles, pixelsPerLatent(), this::decodeWhole);
    }

    /** Image pixels per latent along each axis: 2 per level below the first (8 for the SD, SDXL and Flux VAEs). */
    public int pixelsPerLatent() {
        return 1 << (config.levels() - 1);
    }

    /** The fixed tiling, or null when it follows the memory available. */
    public VaeTiling tiling() {
        return tiling;
    }

    /** When {@link #decode} tiles from now on; null: where the memory available requires it. */
    public void setTiling(VaeTiling tiling) {
        this.tiling = tiling;
    }

    /** Scaled latents (what the denoiser sees) to decoder input: z / scaling + shift. */
    public FloatTensor unscale(FloatTensor latents) {
        float[] out = new float[latents.size()];
        for (int i = 0; i < out.length; i++) out[i] = latents.data()[i] / config.scalingFactor() + config.shiftFactor();
        return new FloatTensor(latents.shape(), out);
    }

    /**
     * Samples the posterior and scales: {@code (mean + exp(0.5 * clamp(logvar, -30, 20)) * eps - shift) * scaling}.
     */
    public FloatTensor sampleLatents(FloatTensor moments, FloatTensor eps) {
        int batch = (int) moments.dim(0);
        int c = (int) config.latentChannels();
        int plane = (int) (moments.dim(2) * moments.dim(3));
        float[] out = new float[batch * c * plane];
        float[] m = moments.data();
        for (int b = 0; b < batch; b++) {
            for (int i = 0; i < c * plane; i++) {
                float mean = m[b * 2 * c * plane + i];
                float logvar = Math.clamp(m[b * 2 * c * plane + c * plane + i], -30f, 20f);
                float std = (float) Math.exp(0.5f * logvar);
                float z = mean + std * eps.data()[b * c * plane + i];
                out[b * c * plane + i] = config.shiftFactor() == 0f ? config.scalingFactor() * z
                        : (z - config.shiftFactor()) * config.scalingFactor();
            }
        }
        return new FloatTensor(new long[]{batch, c, moments.dim(2), moments.dim(3)}, out);
    }

    public long weightBytes() {
        return decoder.weightBytes() + encoder.weightBytes();
    }

    @Override
    public void close() {
        decoder.close();
        encoder.close();
    }
}
