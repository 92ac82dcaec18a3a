package dev.easel.diffusion.convert;

import dev.easel.engine.weights.SafetensorsFile;
import dev.easel.engine.weights.WeightSource;
import dev.easel.engine.weights.WeightsException;

import java.nio.file.Path;

/**
 * A Stable Diffusion 1.x single-file checkpoint (original LDM layout) seen as three components under
 * diffusers/transformers names: {@code unet} ({@code model.diffusion_model.*}), {@code vae}
 * ({@code first_stage_model.*}) and {@code text_encoder} ({@code cond_stage_model.transformer.*}).
 * Other tensors (EMA copies, noise-schedule buffers, {@code position_ids}) are not part of any component.
 * Nothing is copied: the components are views over the checkpoint.
 */
public final class StableDiffusionSingleFile implements AutoCloseable {
    public static final String UNET_PREFIX = "model.diffusion_model.";
    public static final String VAE_PREFIX = "first_stage_model.";
    public static final String TEXT_ENCODER_PREFIX = "cond_stage_model.transformer.";

    private final WeightSource checkpoint;
    private final boolean ownsCheckpoint;
    private final WeightSource unet;
    private final WeightSource vae;
    private final WeightSource textEncoder;

    private StableDiffusionSingleFile(WeightSource checkpoint, boolean ownsCheckpoint) {
        this.checkpoint = checkpoint;
        this.ownsCheckpoint = ownsCheckpoint;
        this.unet = LdmUNetNames.view(checkpoint, require(checkpoint, UNET_PREFIX, "UNet"));
        this.vae = LdmVaeNames.view(checkpoint, require(checkpoint, VAE_PREFIX, "VAE"));
        this.textEncoder = HfTextEncoderNames.view(checkpoint, require(checkpoint, TEXT_ENCODER_PREFIX, "CLIP text encoder"));
    }

    /** Opens the file; closing the result closes it. */
    public static StableDiffusionSingleFile open(Path file) {
        SafetensorsFile checkpoint = SafetensorsFile.open(file);
        try {
            return new StableDiffusionSingleFile(checkpoint, true);
        } catch (RuntimeException e) {
            checkpoint.close();
            throw e;
        }
    }

    /** Views over a checkpoint opened (and closed) by the caller. */
    public static StableDiffusionSingleFile over(WeightSource checkpoint) {
        return new StableDiffusionSingleFile(checkpoint, false);
    }

    private static String require(WeightSource checkpoint, String prefix, String component) {
        if (!PrefixedKeys.anyUnder(checkpoint.names(), prefix)) {
            throw new WeightsException(checkpoint.location() + ": no " + component + " weights (no tensor named " + prefix
                    + "*): not a complete Stable Diffusion 1.x checkpoint");
        }
        return prefix;
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

    @Override
    public void close() {
        if (ownsCheckpoint) checkpoint.close();
    }
}
