package dev.easel.diffusion.scheduler;

/**
 * Flow-matching sigmas (the flow time, 1 = pure noise): {@code linspace(1, 1/N, N)} as the Flux pipelines
 * request, shifted by the {@link FlowShift} (float64), stored as float32, then 0. Timesteps are
 * {@code sigma * T} in float32.
 */
public final class FlowMatchSchedule implements SigmaSchedule {
    private final FlowShift shift;
    private final int trainSteps;
    private final int imageTokens;

    /** {@code imageTokens} (the packed latent token count) is needed only for a dynamic shift. */
    public FlowMatchSchedule(FlowShift shift, int trainSteps, int imageTokens) {
        if (shift.dynamic() && imageTokens < 1) {
            throw new IllegalArgumentException("a dynamically shifted flow schedule needs the image's token count");
        }
        this.shift = shift;
        this.trainSteps = trainSteps;
        this.imageTokens = imageTokens;
    }

    @Override
    public Schedule build(int steps) {
        double[] unshifted = NumpyRanges.linspace(1.0, 1.0 / steps, steps);
        float[] timesteps = new float[steps];
        float[] sigmas = new float[steps + 1];
        for (int i = 0; i < steps; i++) {
            sigmas[i] = (float) shift.apply(unshifted[i], imageTokens);
            timesteps[i] = sigmas[i] * (float) trainSteps;
        }
        sigmas[steps] = 0f;
        return new Schedule(timesteps, sigmas);
    }
}
