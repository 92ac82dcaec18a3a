package dev.easel.diffusion.model.vae;

import com.fasterxml.jackson.databind.JsonNode;

import java.util.Set;
import java.util.function.Function;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

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

    private static final Pattern LEVEL = Pattern.compile("encoder\\.down_blocks\\.(\\d+)\\..+");
    private static final Pattern RESNET = Pattern.compile("encoder\\.down_blocks\\.\\d+\\.resnets\\.(\\d+)\\..+");

    /**
     * From canonical weights; the scaling is the family's (single files do not carry it). Levels and resnets are
     * counted by the highest index of any of their tensors, and the quant convs are there if any of their
     * tensors is, so that a missing tensor is reported as missing instead of changing the model silently.
     */
    public static VaeConfig infer(Set<String> names, Function<String, long[]> shape, float scalingFactor, float shiftFactor) {
        int levels = highestIndex(names, LEVEL) + 1;
        long[] channels = new long[levels];
        for (int i = 0; i < levels; i++) channels[i] = shape.apply("encoder.down_blocks." + i + ".resnets.0.conv1.weight")[0];
        int layers = highestIndex(names, RESNET) + 1;
        long latent = shape.apply("decoder.conv_in.weight")[1];
        return new VaeConfig(channels, layers, latent, names.stream().anyMatch(n -> n.startsWith("quant_conv.") || n.startsWith("post_quant_conv.")), scalingFactor, shiftFactor);
    }

    private static int highestIndex(Set<String> names, Pattern pattern) {
        int highest = -1;
        for (String n : names) {
            Matcher m = pattern.matcher(n);
            if (m.matches()) highest = Math.max(highest, Integer.parseInt(m.group(1)));
        }
        return highest;
    }
}
