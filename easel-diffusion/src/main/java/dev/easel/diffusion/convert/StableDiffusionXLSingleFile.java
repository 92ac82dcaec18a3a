package dev.easel.diffusion.convert;

import dev.easel.engine.weights.WeightSource;

import java.nio.file.Path;

/**
 * An SDXL single-file checkpoint (Stability's SGM layout, as community checkpoints such as SDXL Lightning ship)
 * seen as four components under diffusers/transformers names: {@code unet} ({@code model.diffusion_model.*}),
 * {@code vae} ({@code first_stage_model.*}), {@code text_encoder} (CLIP-L in the Hugging Face layout,
 * {@code conditioner.embedders.0.transformer.*}) and {@code text_encoder_2} (OpenCLIP ViT-bigG,
 * {@code conditioner.embedders.1.model.*}, see {@link OpenClipTextNames}). Nothing is copied except OpenCLIP's
 * stacked q/k/v rows and transposed projection, derived when a session binds them.
 */
public final class StableDiffusionXLSingleFile extends SingleFileCheckpoint {
    public static final String UNET_PREFIX = StableDiffusionSingleFile.UNET_PREFIX;
    public static final String VAE_PREFIX = StableDiffusionSingleFile.VAE_PREFIX;
    public static final String TEXT_ENCODER_PREFIX = "conditioner.embedders.0.transformer.";
    public static final String TEXT_ENCODER_2_PREFIX = "conditioner.embedders.1.model.";

    private final WeightSource unet;
    private final WeightSource vae;
    private final WeightSource textEncoder;
    private final WeightSource textEncoder2;

    private StableDiffusionXLSingleFile(WeightSource checkpoint, boolean ownsCheckpoint) {
        super(checkpoint, ownsCheckpoint, "SDXL");
        this.unet = component(UNET_PREFIX, "UNet", LdmUNetNames::view);
        this.vae = component(VAE_PREFIX, "VAE", LdmVaeNames::view);
        this.textEncoder = component(TEXT_ENCODER_PREFIX, "CLIP-L text encoder", HfTextEncoderNames::view);
        this.textEncoder2 = component(TEXT_ENCODER_2_PREFIX, "OpenCLIP-G text encoder", OpenClipTextNames::view);
    }

    /** Opens the file; closing the result closes it. */
    public static StableDiffusionXLSingleFile open(Path file) {
        return open(file, StableDiffusionXLSingleFile::new);
    }

    /** Views over a checkpoint opened (and closed) by the caller. */
    public static StableDiffusionXLSingleFile over(WeightSource checkpoint) {
        return new StableDiffusionXLSingleFile(checkpoint, false);
    }

    /** The UNet under diffusers' {@code UNet2DConditionModel} names. */
    public WeightSource unet() {
        return unet;
    }

    /** The autoencoder under diffusers' {@code AutoencoderKL} names. */
    public WeightSource vae() {
        return vae;
    }

    /** CLIP-L under transformers' {@code CLIPTextModel} names. */
    public WeightSource textEncoder() {
        return textEncoder;
    }

    /** OpenCLIP ViT-bigG under transformers' {@code CLIPTextModelWithProjection} names. */
    public WeightSource textEncoder2() {
        return textEncoder2;
    }
}
