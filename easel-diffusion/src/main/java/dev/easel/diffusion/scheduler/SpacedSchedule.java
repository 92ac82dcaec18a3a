package dev.easel.diffusion.scheduler;

/**
 * Discrete-time timesteps picked by a {@link TimestepSpacing}, with sigmas interpolated from the training table
 * and a final sigma of 0 (or sigma_min when {@code endAtSigmaMin}, DDIM without set_alpha_to_one).
 */
public final class SpacedSchedule implements SigmaSchedule {
    private final NoiseSchedule noise;
    private final TimestepSpacing spacing;
    private final int stepsOffset;
    private final SpacingConvention convention;
    private final boolean endAtSigmaMin;

    public SpacedSchedule(NoiseSchedule noise, TimestepSpacing spacing, int stepsOffset,
                          SpacingConvention convention, boolean endAtSigmaMin) {
        this.noise = noise;
        this.spacing = spacing;
        this.stepsOffset = stepsOffset;
        this.convention = convention;
        this.endAtSigmaMin = endAtSigmaMin;
    }

    @Override
    public Schedule build(int steps) {
        double[] t = timesteps(steps);
        float[] timesteps = new float[steps];
        float[] sigmas = new float[steps + 1];
        for (int i = 0; i < steps; i++) {
            timesteps[i] = (float) t[i];
            // Euler's fractional timesteps are first stored as float32, then interpolated in float64.
            sigmas[i] = (float) noise.sigmaAt(timesteps[i]);
        }
        sigmas[steps] = endAtSigmaMin ? noise.trainSigma(0) : 0f;
        return new Schedule(timesteps, sigmas);
    }

    /** Descending timesteps, in training units. */
    private double[] timesteps(int n) {
        int trainSteps = noise.trainSteps();
        boolean oneExtra = convention == SpacingConvention.DPM_SOLVER && spacing != TimestepSpacing.TRAILING;
        int points = oneExtra ? n + 1 : n;
        double[] ascending = new double[points];
        switch (spacing) {
            case LINSPACE -> {
                double[] lin = NumpyRanges.linspace(0, trainSteps - 1, points);
                for (int k = 0; k < points; k++) {
                    ascending[k] = convention == SpacingConvention.EULER ? lin[k] : NumpyRanges.round(lin[k]);
                }
            }
            case LEADING -> {
                int ratio = trainSteps / points;
                for (int k = 0; k < points; k++) ascending[k] = (double) k * ratio + stepsOffset;
            }
            case TRAILING -> {
                // np.arange(T, 0, -T/N) yields N + 1 values for a few N (61, 103, ...), the last rounding to -1;
                // only its first N are the schedule.
                double[] down = NumpyRanges.arangeDown(trainSteps, (double) trainSteps / n, n);
                for (int k = 0; k < n; k++) ascending[n - 1 - k] = NumpyRanges.round(down[k]) - 1;
            }
        }
        // Descending order; the DPM-Solver reading drops the lowest of its N + 1 points.
        double[] out = new double[n];
        for (int i = 0; i < n; i++) out[i] = ascending[points - 1 - i];
        return out;
    }
}
