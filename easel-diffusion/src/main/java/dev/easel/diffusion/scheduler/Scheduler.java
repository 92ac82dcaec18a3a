package dev.easel.diffusion.scheduler;

import dev.easel.diffusion.noise.NoiseSource;
import dev.easel.engine.tensor.FloatTensor;

/**
 * One run of a sampler over a schedule: made by {@link Schedulers#create} for each generation, used by one
 * thread, steps called in order. Steps are numbered from 0 to {@code stepCount() - 1} over the steps that
 * actually run (img2img skips the head of the schedule); index {@code stepCount()} is the end of the run.
 *
 * <pre>{@code
 * start = noise.next(shape);
 * x = fromImage ? s.addNoise(imageLatents, start, 0) : s.initialLatents(start);
 * for (int i = 0; i < s.stepCount(); i++) {
 *     out = guided(denoiser(s.scaleModelInput(x, i), s.timestep(i)));
 *     x = s.step(i, x, out, noise);
 *     if (inpaint) x = blend(mask, s.addNoise(imageLatents, start, i + 1), x);  // clean after the last step
 * }
 * }</pre>
 */
public interface Scheduler {

    /** Steps that run: after img2img strength, {@code N - t_start}. May be 0 (strength 0 on SD). */
    int stepCount();

    /** What the denoiser is given as its timestep at step i (fractional for "linspace" Euler; Flux: sigma). */
    float timestep(int i);

    /** The schedule's sigma at step i, for i in [0, stepCount()]; {@code sigma(stepCount())} is the final one. */
    float sigma(int i);

    /** The denoiser's input for latents {@code x} at step i (divided by sqrt(sigma^2 + 1) for Euler; else x itself). */
    FloatTensor scaleModelInput(FloatTensor x, int i);

    /** txt2img start: N(0, 1) noise scaled to the first step's level (init_noise_sigma, which depends on the schedule). */
    FloatTensor initialLatents(FloatTensor noise);

    /**
     * Clean latents noised to the level of step i, in the sampler's form ({@code clean + sigma * noise} for Euler,
     * {@code alpha * clean + sigma * noise} for DDIM / DPM++ / flow): img2img's start with i = 0, inpainting's
     * re-noised original after step i with i + 1. At i = stepCount() the run is over and {@code clean} comes back.
     */
    FloatTensor addNoise(FloatTensor clean, FloatTensor noise, int i);

    /**
     * Advances from step i to step i + 1.
     *
     * @param x                 the latents at step i (what {@link #scaleModelInput} was given)
     * @param guidedModelOutput the denoiser's output after classifier-free guidance, same shape as x
     * @param noise             where samplers that draw get their noise (Euler draws one unused tensor per step,
     *                          as diffusers does; Euler a uses its draw; DDIM and DPM++ draw nothing)
     * @return the latents at step i + 1
     * @throws IllegalStateException when steps are not called in order 0, 1, 2, ...
     */
    FloatTensor step(int i, FloatTensor x, FloatTensor guidedModelOutput, NoiseSource noise);

    /** The clean-latent estimate x0 of the latest step, for previews. */
    FloatTensor lastDenoised();
}
