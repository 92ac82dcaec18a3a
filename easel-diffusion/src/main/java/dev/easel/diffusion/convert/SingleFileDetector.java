package dev.easel.diffusion.convert;

import dev.easel.diffusion.family.ModelFamily;
import dev.easel.engine.weights.TensorInfo;
import dev.easel.engine.weights.WeightsException;

import java.nio.file.Path;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * Tells the family of a single-file checkpoint from its tensor names and shapes. Structure decides, never
 * widths, so that tiny test models and real ones are told apart the same way:
 * FLUX.1 has {@code double_blocks}, SD3 {@code joint_blocks}; an LDM UNet ({@code input_blocks}) with
 * {@code label_emb} and two conditioner embedders is SDXL; without {@code label_emb}, a CLIP text encoder
 * ({@code cond_stage_model.transformer}) and 1x1-conv {@code proj_in} make SD 1.x, while an OpenCLIP one
 * ({@code cond_stage_model.model}) or Linear {@code proj_in} make SD 2.x.
 */
final class SingleFileDetector {
    private static final String UNET = StableDiffusionSingleFile.UNET_PREFIX;
    private static final String CONV_IN = UNET + "input_blocks.0.0.weight";
    /** FLUX.1 packs 2x2 patches of 16 latent channels: 64 inputs; Fill/Depth/Canny variants add conditioning channels. */
    private static final long FLUX_IN_CHANNELS = 64;
    private static final long UNET_IN_CHANNELS = 4;
    private static final long INPAINT_IN_CHANNELS = 9;

    private final Path path;
    private final Map<String, TensorInfo> tensors = new LinkedHashMap<>();

    private SingleFileDetector(Path path, Collection<TensorInfo> tensors) {
        this.path = path;
        tensors.forEach(t -> this.tensors.put(t.name(), t));
    }

    static DetectedCheckpoint detect(Path path, Collection<TensorInfo> tensors) {
        return new SingleFileDetector(path, tensors).detect();
    }

    private DetectedCheckpoint detect() {
        if (anyContains("joint_blocks.")) {
            throw unsupported("Stable Diffusion 3 (MMDiT 'joint_blocks' tensors)");
        }
        Optional<String> fluxPrefix = prefixOf("double_blocks.");
        if (fluxPrefix.isPresent()) return flux(fluxPrefix.get());
        if (tensors.containsKey(CONV_IN) || anyStartsWith(UNET + "input_blocks.")) return ldmUNet();
        if (tensors.containsKey("encoder.conv_in.weight") && tensors.containsKey("decoder.conv_in.weight")) {
            throw unsupported("a standalone VAE (encoder.*/decoder.* only), not a denoising model; "
                    + "name it as the VAE of a model instead");
        }
        throw unsupported("no known denoiser (no input_blocks, double_blocks or joint_blocks); first tensors: "
                + tensors.keySet().stream().limit(5).toList());
    }

    private DetectedCheckpoint flux(String prefix) {
        TensorInfo imgIn = tensors.get(prefix + "img_in.weight");
        if (imgIn == null || imgIn.rank() != 2) {
            throw unsupported("FLUX-like double_blocks without an img_in Linear weight");
        }
        if (imgIn.dim(1) != FLUX_IN_CHANNELS) {
            throw unsupported("a FLUX.1 variant whose img_in takes " + imgIn.dim(1) + " channels instead of "
                    + FLUX_IN_CHANNELS + " (Fill, Depth or Canny conditioning)");
        }
        boolean guidance = tensors.containsKey(prefix + "guidance_in.in_layer.weight");
        String reason = "BFL transformer layout ('" + prefix + "double_blocks', 'single_blocks'), img_in takes 64 channels, "
                + (guidance ? "guidance_in present (guidance-distilled, FLUX.1-dev style)" : "no guidance_in (FLUX.1-schnell style)");
        return new DetectedCheckpoint(path, DetectedCheckpoint.Layout.SINGLE_FILE, ModelFamily.FLUX, Set.of("transformer"), guidance, reason);
    }

    private DetectedCheckpoint ldmUNet() {
        TensorInfo convIn = tensors.get(CONV_IN);
        if (convIn == null) {
            throw WeightsException.forTensor(path, CONV_IN, "is missing: the UNet (" + UNET
                    + "input_blocks.*) has no input convolution; the checkpoint is incomplete or damaged");
        }
        if (convIn.rank() != 4) {
            throw WeightsException.forTensor(path, CONV_IN, "has shape " + java.util.Arrays.toString(convIn.shape())
                    + ", expected a convolution weight [channels, in_channels, 3, 3]; the checkpoint is damaged");
        }
        long inChannels = convIn.dim(1);
        boolean labelEmbedding = anyStartsWith(UNET + "label_emb.");
        if (labelEmbedding) return sdxl(inChannels);
        boolean openClip = anyStartsWith("cond_stage_model.model.");
        boolean linearProjection = tensors.values().stream()
                .anyMatch(t -> t.name().startsWith(UNET) && t.name().endsWith(".proj_in.weight") && t.rank() == 2);
        if (openClip || linearProjection) {
            throw unsupported("Stable Diffusion 2.x: LDM UNet without label_emb and "
                    + (openClip ? "an OpenCLIP text encoder (cond_stage_model.model.*)" : "")
                    + (openClip && linearProjection ? " and " : "")
                    + (linearProjection ? "Linear proj_in in its transformers" : ""));
        }
        checkInChannels(inChannels, "Stable Diffusion 1.x");
        String reason = "LDM UNet (model.diffusion_model.input_blocks) without label_emb, 1x1-conv proj_in, "
                + inChannels + " input channels" + (anyStartsWith(StableDiffusionSingleFile.TEXT_ENCODER_PREFIX)
                ? ", CLIP text encoder under cond_stage_model.transformer" : "");
        return new DetectedCheckpoint(path, DetectedCheckpoint.Layout.SINGLE_FILE, ModelFamily.SD15, components(), false, reason);
    }

    private DetectedCheckpoint sdxl(long inChannels) {
        boolean secondEmbedder = anyStartsWith("conditioner.embedders.1.");
        if (!secondEmbedder && anyStartsWith("conditioner.embedders.0.model.")) {
            throw unsupported("the SDXL refiner: label_emb with only an OpenCLIP text encoder (conditioner.embedders.0.model)");
        }
        if (!secondEmbedder && anyStartsWith("cond_stage_model.")) {
            throw unsupported("a class- or image-conditioned SD 2.x UNet (label_emb with a cond_stage_model text encoder)");
        }
        checkInChannels(inChannels, "SDXL");
        String reason = "SGM UNet with label_emb (model.diffusion_model.label_emb), " + inChannels + " input channels, "
                + (secondEmbedder ? "two text encoders (conditioner.embedders.0/1)" : "UNet without text encoders");
        return new DetectedCheckpoint(path, DetectedCheckpoint.Layout.SINGLE_FILE, ModelFamily.SDXL, components(), false, reason);
    }

    private void checkInChannels(long inChannels, String family) {
        if (inChannels == INPAINT_IN_CHANNELS) {
            throw unsupported("a " + family + " inpainting UNet: conv_in takes 9 channels (latents, mask, masked-image latents); "
                    + "Easel inpaints with the ordinary 4-channel model");
        }
        if (inChannels != UNET_IN_CHANNELS) {
            throw unsupported("a " + family + " UNet whose conv_in takes " + inChannels + " channels instead of 4");
        }
    }

    /** Diffusers component names of the parts present. */
    private Set<String> components() {
        Set<String> found = new LinkedHashSet<>();
        if (anyStartsWith(UNET)) found.add("unet");
        if (anyStartsWith(StableDiffusionSingleFile.VAE_PREFIX)) found.add("vae");
        if (anyStartsWith(StableDiffusionSingleFile.TEXT_ENCODER_PREFIX) || anyStartsWith("conditioner.embedders.0.transformer.")) {
            found.add("text_encoder");
        }
        if (anyStartsWith("conditioner.embedders.1.model.")) found.add("text_encoder_2");
        return found;
    }

    private Optional<String> prefixOf(String marker) {
        return tensors.keySet().stream()
                .filter(k -> k.startsWith(marker) || k.contains("." + marker))
                .map(k -> k.substring(0, k.indexOf(marker)))
                .findFirst();
    }

    private boolean anyStartsWith(String prefix) {
        return tensors.keySet().stream().anyMatch(k -> k.startsWith(prefix));
    }

    private boolean anyContains(String part) {
        return tensors.keySet().stream().anyMatch(k -> k.startsWith(part) || k.contains("." + part));
    }

    private UnsupportedCheckpointException unsupported(String found) {
        return new UnsupportedCheckpointException(path, found);
    }
}
