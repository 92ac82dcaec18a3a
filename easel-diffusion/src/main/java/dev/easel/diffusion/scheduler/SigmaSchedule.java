package dev.easel.diffusion.scheduler;

/**
 * Axis 1 of a scheduler: which timesteps a run of N steps visits and at which noise levels. Implementations:
 * {@link SpacedSchedule} (linspace / leading / trailing), {@link KarrasSchedule} and {@link FlowMatchSchedule}.
 */
public interface SigmaSchedule {
    /** The full schedule for {@code steps} steps (img2img then runs only its tail). */
    Schedule build(int steps);
}
