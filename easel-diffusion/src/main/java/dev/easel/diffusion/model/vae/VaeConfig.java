package dev.easel.diffusion.model.vae;

import com.fasterxml.jackson.databind.JsonNode;

import java.util.Set;
import java.util.function.Function;

/**
 * AutoencoderKL's shape and latent scaling: latents the denoiser sees are
 * {@code (z - shift) * scaling}.
 */
public record VaeConfig(long[] channels, int layersPerBlock, long latentChannels, boolean quantConvs,
                        float scalingFactor, float shiftFactor) {

    public int levels() {
        return channels.length;
    }

    public static VaeConfig fromDiffusers(JsonNode c) {
        JsonNode ch = c.get("block_out_channels");
        long[] channels = new long[ch.size()];
        for (int i = 0; i < channels.length; i++) channels[i] = ch.get(i).asLong();
        return new VaeConfig(channels, c.get("layers_per_block").asInt(), c.get("latent_channels").asLong(),
                c.path("use_quant_conv").asBoolean(true), (float) c.get("scaling_factor").asDouble(),
                c.hasNonNull("shift_factor") ? (float) c.get("shift_factor").asDouble() : 0f);
    }

    /** From canonical weights; the scaling is the family's (single files do not carry it). */
    public static VaeConfig infer(Set<String> names, Function<String, long[]> shape, float scalingFactor, float shiftFactor) {
        int levels = 0;
        while (names.contains("encoder.down_blocks." + levels + ".resnets.0.conv1.weight")) levels++;
        long[] channels = new long[levels];
        for (int i = 0; i < levels; i++) channels[i] = shape.apply("encoder.down_blocks." + i + ".resnets.0.conv1.weight")[0];
        int layers = 0;
        while (names.contains("encoder.down_blocks.0.resnets." + layers + ".conv1.weight")) layers++;
        long latent = shape.apply("decoder.conv_in.weight")[1];
        return new VaeConfig(channels, layers, latent, names.contains("quant_conv.weight"), scalingFactor, shiftFactor);
    }
}
