package dev.easel.diffusion.scheduler;

import dev.easel.diffusion.noise.NoiseSource;
import dev.easel.engine.tensor.FloatTensor;

/**
 * Axis 3 of a scheduler: the update rule that moves the latents from one noise level to the next, given the
 * model's {@link Prediction}. One instance serves one run: multistep samplers keep the previous step.
 */
public interface Sampler {
    /**
     * @param current  the model's prediction at the current level (latents, level, x0 estimate)
     * @param next     the level to move to, in the same {@link LatentSpace}
     * @param lastStep whether this is the run's final step
     * @param noise    source of fresh N(0, 1) draws, for samplers that draw
     * @return the latents at {@code next}
     */
    FloatTensor step(Prediction current, NoiseLevel next, boolean lastStep, NoiseSource noise);
}
