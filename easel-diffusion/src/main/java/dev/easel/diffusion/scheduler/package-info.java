/**
 * Schedulers as three independent choices, the split stable-diffusion.cpp and k-diffusion use:
 * <ol>
 *   <li>{@link dev.easel.diffusion.scheduler.SigmaSchedule}: which timesteps and noise levels a run visits
 *       ({@link dev.easel.diffusion.scheduler.SpacedSchedule} linspace / leading / trailing,
 *       {@link dev.easel.diffusion.scheduler.KarrasSchedule}, {@link dev.easel.diffusion.scheduler.FlowMatchSchedule}),
 *       from the training {@link dev.easel.diffusion.scheduler.NoiseSchedule};</li>
 *   <li>{@link dev.easel.diffusion.scheduler.Parameterization}: what the denoiser predicts (epsilon, v, flow
 *       velocity) and how that becomes an x0 estimate;</li>
 *   <li>{@link dev.easel.diffusion.scheduler.Sampler}: the update rule ({@link dev.easel.diffusion.scheduler.Euler},
 *       {@link dev.easel.diffusion.scheduler.EulerAncestral}, {@link dev.easel.diffusion.scheduler.Ddim},
 *       {@link dev.easel.diffusion.scheduler.DpmSolverMultistep}).</li>
 * </ol>
 * {@link dev.easel.diffusion.scheduler.Schedulers#create} picks one of each from a user's
 * {@link dev.easel.diffusion.scheduler.SamplerKind} and the family's
 * {@link dev.easel.diffusion.scheduler.SchedulerSettings} so that each combination reproduces the matching
 * diffusers scheduler class to float32 rounding; the result is a {@link dev.easel.diffusion.scheduler.Scheduler},
 * one per generation.
 */
package dev.easel.diffusion.scheduler;
