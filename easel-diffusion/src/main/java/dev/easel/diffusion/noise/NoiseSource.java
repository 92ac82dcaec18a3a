package dev.easel.diffusion.noise;

import dev.easel.engine.tensor.FloatTensor;

/**
 * A stream of standard normal N(0, 1) float32 tensors. Successive calls continue the same stream, the way
 * successive {@code torch.randn(..., generator=g)} calls on one generator do.
 */
public interface NoiseSource {
    FloatTensor next(long... shape);
}
