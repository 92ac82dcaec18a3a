package dev.easel.diffusion.scheduler;

/**
 * diffusers' scheduler classes read the same {@code timestep_spacing} slightly differently; each sampler keeps
 * the reading of the class it reproduces, so that switching samplers gives what diffusers gives.
 */
public enum SpacingConvention {
    /** EulerDiscreteScheduler and EulerAncestral: N points; "linspace" keeps fractional timesteps (749.25). */
    EULER,
    /** DDIMScheduler: N points, integer timesteps ("linspace" rounded). */
    DDIM,
    /**
     * DPMSolverMultistepScheduler: "linspace" and "leading" space N + 1 points and drop the lowest, so the last
     * model call is not at t = 0 (the final step jumps to sigma 0 anyway); integer timesteps.
     */
    DPM_SOLVER
}
