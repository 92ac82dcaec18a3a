package dev.easel.diffusion.scheduler;

import java.util.Arrays;

/**
 * The timesteps and noise levels of one full run of N steps, as a scheduler's {@code set_timesteps} leaves them:
 * step i calls the denoiser at {@code timesteps[i]} and moves the latents from {@code sigmas[i]} to
 * {@code sigmas[i + 1]}; {@code sigmas[N]} is where the run ends (0, or sigma_min for DDIM without
 * set_alpha_to_one). Timesteps are in training units (0 .. T); sigmas are those of the schedule's own family
 * ("x0 + sigma * noise" for discrete-time models, the flow time for flow matching).
 */
public record Schedule(float[] timesteps, float[] sigmas) {

    public Schedule {
        if (timesteps.length < 1 || sigmas.length != timesteps.length + 1) {
            throw new IllegalArgumentException("a schedule of " + timesteps.length + " steps needs "
                    + (timesteps.length + 1) + " sigmas, got " + sigmas.length);
        }
        timesteps = timesteps.clone();
        sigmas = sigmas.clone();
    }

    public int steps() {
        return timesteps.length;
    }

    @Override
    public float[] timesteps() {
        return timesteps.clone();
    }

    @Override
    public float[] sigmas() {
        return sigmas.clone();
    }

    float timestep(int i) {
        return timesteps[i];
    }

    float sigma(int i) {
        return sigmas[i];
    }

    /** The largest sigma of the run (diffusers' {@code sigmas.max()}). */
    float maxSigma() {
        float max = 0;
        for (float s : sigmas) max = Math.max(max, s);
        return max;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Schedule s && Arrays.equals(timesteps, s.timesteps) && Arrays.equals(sigmas, s.sigmas);
    }

    @Override
    public int hashCode() {
        return 31 * Arrays.hashCode(timesteps) + Arrays.hashCode(sigmas);
    }

    @Override
    public String toString() {
        return "Schedule[timesteps=" + Arrays.toString(timesteps) + ", sigmas=" + Arrays.toString(sigmas) + "]";
    }
}
