package dev.easel.diffusion.pipeline;

import dev.easel.diffusion.image.RgbImage;
import dev.easel.engine.tensor.FloatTensor;

/**
 * A family's latents: the VAE's latent image ({@code n x channels x H/8 x W/8}) and the form the denoiser takes
 * it in. The pipeline keeps latents in the VAE's form (noise is drawn in it, masks blend in it, the scheduler's
 * elementwise updates are the same in either form) and converts at the denoiser call.
 */
public interface LatentFormat {
    int VAE_SCALE = 8;

    /** Latent shape for {@code n} images of {@code width x height} pixels. */
    long[] shape(int n, int width, int height);

    /** The latents as the denoiser takes them (and as the reference pipeline holds them). */
    FloatTensor toDenoiser(FloatTensor latents);

    /** A denoiser output back to the VAE's form ({@code shape}). */
    FloatTensor fromDenoiser(FloatTensor output, long[] shape);

    /** Tokens the denoiser sees for one image, for schedules that shift with the image size. */
    int imageTokens(int width, int height);

    /** A cheap preview of image {@code index} of the latents, without running the VAE decoder. */
    RgbImage preview(FloatTensor latents, int index);

    /** UNet latents: the VAE's form as it is. */
    static LatentFormat spatial(int channels) {
        return new SpatialLatents(channels);
    }

    /** FLUX.1's 2x2 patches of latent pixels packed into tokens of {@code 4 * channels}. */
    static LatentFormat patchPacked(int channels) {
        return new PatchPackedLatents(channels);
    }
}
