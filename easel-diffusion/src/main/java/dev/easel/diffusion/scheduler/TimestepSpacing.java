package dev.easel.diffusion.scheduler;

/**
 * How a discrete-time schedule picks its N timesteps out of the T training steps (diffusers
 * {@code timestep_spacing}). The exact values also depend on the sampler (see {@link SpacingConvention}).
 */
public enum TimestepSpacing {
    /** Evenly from T-1 down to 0 (fractional for Euler). */
    LINSPACE,
    /** Multiples of T/N from the bottom, plus {@code steps_offset}: SD 1.5's 751, 501, 251, 1. */
    LEADING,
    /** Multiples of T/N from the top: 999, 749, 499, 249 (SDXL Lightning and other few-step models). */
    TRAILING;

    /** Parses a diffusers config value ({@code "linspace"}, {@code "leading"}, {@code "trailing"}). */
    public static TimestepSpacing parse(String configValue) {
        for (TimestepSpacing s : values()) {
            if (s.name().equalsIgnoreCase(configValue)) return s;
        }
        throw new IllegalArgumentException("unsupported timestep_spacing '" + configValue
                + "'; supported: linspace, leading, trailing");
    }
}
