package dev.easel.diffusion.scheduler;

/**
 * How img2img turns {@code strength} into the first step to run; the two diffusers pipeline families round
 * differently, so a schedule of N = 10 steps at strength 0.25 runs 2 steps on SD/SDXL and 3 on Flux.
 */
public enum StrengthRule {
    /**
     * SD / SDXL img2img and inpaint: {@code t_start = N - min(int(N * strength), N)}, i.e. the number of steps run
     * is rounded down.
     */
    ROUND_DOWN_STEPS_RUN,
    /**
     * Flux and SD3 img2img: {@code t_start = int(max(N - min(N * strength, N), 0))}, i.e. the first step is rounded
     * down, so one more step may run.
     */
    ROUND_DOWN_START;

    /** The index of the first step to run, in {@code [0, steps]}. */
    int startIndex(int steps, float strength) {
        // The API carries strength as a float; diffusers sees the decimal the user typed as a Python float
        // (e.g. 0.7, not 0.699999988), and int(N * strength) flips at such values.
        double s = Double.parseDouble(Float.toString(strength));
        return switch (this) {
            case ROUND_DOWN_STEPS_RUN -> Math.max(steps - Math.min((int) (steps * s), steps), 0);
            case ROUND_DOWN_START -> (int) Math.max(steps - Math.min(steps * s, steps), 0);
        };
    }
}
