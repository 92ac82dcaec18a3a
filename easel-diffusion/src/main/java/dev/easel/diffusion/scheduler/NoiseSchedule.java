package dev.easel.diffusion.scheduler;

/**
 * The training noise of a discrete-time model: alphas_cumprod over the T training timesteps and the
 * sigmas they imply, {@code s_k = sqrt((1 - a_k) / a_k)}, the noise level of timestep k in the
 * "x = x0 + sigma * noise" form.
 *
 * <p>Precision follows diffusers: betas, alphas and the sigma table are float32 (torch), alphas_cumprod is
 * accumulated in float64 and rounded to float32 per element (torch's CPU cumprod), and everything
 * interpolated between training steps is float64 (numpy) before the result is rounded to float32.
 */
public final class NoiseSchedule {
    private final float[] alphasCumprod;
    private final float[] sigmas;
    private final float[] logSigmas;

    private NoiseSchedule(float[] alphasCumprod) {
        this.alphasCumprod = alphasCumprod;
        int n = alphasCumprod.length;
        this.sigmas = new float[n];
        this.logSigmas = new float[n];
        for (int k = 0; k < n; k++) {
            float a = alphasCumprod[k];
            sigmas[k] = (float) Math.sqrt((1f - a) / a);
            logSigmas[k] = (float) Math.log(sigmas[k]);
        }
    }

    public static NoiseSchedule of(BetaSchedule betas, int trainSteps) {
        float[] b = switch (betas.kind()) {
            case LINEAR -> TorchLinspace.of((float) betas.betaStart(), (float) betas.betaEnd(), trainSteps);
            case SCALED_LINEAR -> {
                float[] roots = TorchLinspace.of((float) Math.sqrt(betas.betaStart()), (float) Math.sqrt(betas.betaEnd()), trainSteps);
                for (int k = 0; k < trainSteps; k++) roots[k] = roots[k] * roots[k];
                yield roots;
            }
        };
        float[] cumprod = new float[trainSteps];
        double product = 1;
        for (int k = 0; k < trainSteps; k++) {
            product *= 1f - b[k];
            cumprod[k] = (float) product;
        }
        return new NoiseSchedule(cumprod);
    }

    public int trainSteps() {
        return alphasCumprod.length;
    }

    public float alphaCumprod(int timestep) {
        return alphasCumprod[timestep];
    }

    /** Sigma of training timestep k. */
    public float trainSigma(int timestep) {
        return sigmas[timestep];
    }

    /** Sigma at a possibly fractional timestep: linear interpolation of the table (np.interp, float64). */
    public double sigmaAt(double timestep) {
        return NumpyRanges.interp(timestep, sigmas);
    }

    /**
     * The (fractional) timestep of a sigma: linear in log sigma between the two neighbouring training steps,
     * clamped to [0, T-1] (diffusers {@code _sigma_to_t}, with its float32 log table).
     */
    public double timestepOf(double sigma) {
        double logSigma = Math.log(Math.max(sigma, 1e-10));
        int low = 0;
        for (int k = 0; k < logSigmas.length; k++) {
            if (logSigma - logSigmas[k] >= 0) low = k;
        }
        low = Math.min(low, logSigmas.length - 2);
        float width = logSigmas[low] - logSigmas[low + 1]; // float32 - float32 stays float32 in numpy
        double w = Math.clamp((logSigmas[low] - logSigma) / width, 0.0, 1.0);
        return (1 - w) * low + w * (low + 1);
    }
}
