package dev.easel.diffusion.pipeline;

import dev.easel.diffusion.image.RgbImage;
import dev.easel.engine.tensor.FloatTensor;

/** Latents the denoiser takes as the VAE makes them (the UNets). */
record SpatialLatents(int channels) implements LatentFormat {

    @Override
    public long[] shape(int n, int width, int height) {
        return new long[]{n, channels, height / VAE_SCALE, width / VAE_SCALE};
    }

    @Override
    public FloatTensor toDenoiser(FloatTensor latents) {
        return latents;
    }

    @Override
    public FloatTensor fromDenoiser(FloatTensor output, long[] shape) {
        return output;
    }

    @Override
    public int imageTokens(int width, int height) {
        return (width / VAE_SCALE) * (height / VAE_SCALE);
    }

    @Override
    public RgbImage preview(FloatTensor latents, int index) {
        return LatentPreview.approximate(latents, index);
    }
}
