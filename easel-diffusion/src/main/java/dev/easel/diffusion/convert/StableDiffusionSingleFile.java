package dev.easel.diffusion.convert;

import dev.easel.engine.weights.WeightSource;

import java.nio.file.Path;

/**
 * A Stable Diffusion 1.x single-file checkpoint (original LDM layout) seen as three components under
 * diffusers/transformers names: {@code unet} ({@code model.diffusion_model.*}), {@code vae}
 * ({@code first_stage_model.*}) and {@code text_encoder} ({@code cond_stage_model.transformer.*}).
 * Other tensors (EMA copies, noise-schedule buffers, {@code position_ids}) are not part of any component.
 * Nothing is copied: the components are views over the checkpoint.
 */
public final class StableDiffusionSingleFile extends SingleFileCheckpoint {
    public static final String UNET_PREFIX = "model.diffusion_model.";
    public static final String VAE_PREFIX = "first_stage_model.";
    public static final String TEXT_ENCODER_PREFIX = "cond_stage_model.transformer.";

    private final WeightSource unet;
    private final WeightSource vae;
    private final WeightSource textEncoder;

    private StableDiffusionSingleFile(WeightSource checkpoint, boolean ownsCheckpoint) {
        super(checkpoint, ownsCheckpoint, "Stable Diffusion 1.x");
        this.unet = component(UNET_PREFIX, "UNet", LdmUNetNames::view);
        this.vae = component(VAE_PREFIX, "VAE", LdmVaeNames::view);
        this.textEncoder = component(TEXT_ENCODER_PREFIX, "CLIP text encoder", HfTextEncoderNames::view);
    }

    /** Opens the file; closing the result closes it. */
    public static StableDiffusionSingleFile open(Path file) {
        return open(file, StableDiffusionSingleFile::new);
    }

    /** Views over a checkpoint opened (and closed) by the caller. */
    public static StableDiffusionSingleFile over(WeightSource checkpoint) {
        return new StableDiffusionSingleFile(checkpoint, false);
    }

    /** The UNet under diffusers' {@code UNet2DConditionModel} names. */
    public WeightSource unet() {
        return unet;
    }

    /** The autoencoder under diffusers' {@code AutoencoderKL} names. */
    public WeightSource vae() {
        return vae;
    }

    /** The CLIP text encoder under transformers' {@code CLIPTextModel} names. */
    public WeightSource textEncoder() {
        return textEncoder;
    }
}
