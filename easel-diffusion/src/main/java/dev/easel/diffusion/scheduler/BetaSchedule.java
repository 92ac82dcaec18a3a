package dev.easel.diffusion.scheduler;

/**
 * The beta ramp a discrete-time model was trained with (diffusers {@code beta_schedule}, {@code beta_start},
 * {@code beta_end}); the number of training steps lives in {@link SchedulerSettings#trainSteps()}.
 */
public record BetaSchedule(double betaStart, double betaEnd, Kind kind) {

    public enum Kind {
        /** betas = linspace(start, end). */
        LINEAR,
        /** betas = linspace(sqrt(start), sqrt(end))^2, the Stable Diffusion schedule. */
        SCALED_LINEAR
    }

    public BetaSchedule {
        if (kind == null) throw new IllegalArgumentException("beta schedule kind is required");
        if (!(betaStart > 0 && betaStart < betaEnd && betaEnd < 1)) {
            throw new IllegalArgumentException("betas must satisfy 0 < beta_start < beta_end < 1, got "
                    + betaStart + " .. " + betaEnd);
        }
    }

    /** scaled_linear 0.00085 .. 0.012: SD 1.x, SD 2.x and SDXL. */
    public static BetaSchedule stableDiffusion() {
        return new BetaSchedule(0.00085, 0.012, Kind.SCALED_LINEAR);
    }
}
