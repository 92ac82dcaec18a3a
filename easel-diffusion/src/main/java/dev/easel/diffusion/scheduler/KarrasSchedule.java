package dev.easel.diffusion.scheduler;

/**
 * Karras et al. (2022) sigmas: evenly spaced in {@code sigma^(1/rho)} with rho = 7, from the training table's
 * sigma_max = s_{T-1} down to sigma_min = s_0, then 0. Each step's timestep is the training timestep of its
 * sigma (log-sigma interpolation), rounded to an integer as DPMSolverMultistepScheduler does.
 */
public final class KarrasSchedule implements SigmaSchedule {
    static final double RHO = 7.0;
    private final NoiseSchedule noise;

    public KarrasSchedule(NoiseSchedule noise) {
        this.noise = noise;
    }

    @Override
    public Schedule build(int steps) {
        double sigmaMin = noise.trainSigma(0);
        double sigmaMax = noise.trainSigma(noise.trainSteps() - 1);
        double minInvRho = Math.pow(sigmaMin, 1 / RHO);
        double maxInvRho = Math.pow(sigmaMax, 1 / RHO);
        double[] ramp = NumpyRanges.linspace(0, 1, steps);
        float[] timesteps = new float[steps];
        float[] sigmas = new float[steps + 1];
        for (int i = 0; i < steps; i++) {
            double sigma = Math.pow(maxInvRho + ramp[i] * (minInvRho - maxInvRho), RHO);
            // The timestep comes from the float64 sigma, before it is stored as float32.
            timesteps[i] = (float) NumpyRanges.round(noise.timestepOf(sigma));
            sigmas[i] = (float) sigma;
        }
        sigmas[steps] = 0f;
        return new Schedule(timesteps, sigmas);
    }
}
