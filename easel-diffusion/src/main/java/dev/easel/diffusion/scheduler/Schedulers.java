package dev.easel.diffusion.scheduler;

/**
 * Builds the {@link Scheduler} of one run from the user's sampler choice and the model family's settings, by
 * choosing one piece on each axis: sigma schedule, parameterization (from the settings) and sampler, plus the
 * latent form the sampler works in. The combinations reproduce diffusers' scheduler classes:
 *
 * <table>
 *   <tr><th>kind</th><th>schedule</th><th>sampler</th><th>latents</th><th>diffusers</th></tr>
 *   <tr><td>EULER</td><td>spaced</td><td>Euler</td><td>x0 + s n</td><td>EulerDiscreteScheduler</td></tr>
 *   <tr><td>EULER_A</td><td>spaced</td><td>Euler ancestral</td><td>x0 + s n</td><td>EulerAncestralDiscreteScheduler</td></tr>
 *   <tr><td>DDIM</td><td>spaced</td><td>DDIM</td><td>variance preserving</td><td>DDIMScheduler</td></tr>
 *   <tr><td>DPMPP_2M(_KARRAS)</td><td>spaced (Karras)</td><td>DPM++ 2M</td><td>variance preserving</td><td>DPMSolverMultistepScheduler</td></tr>
 *   <tr><td>FLOW_EULER</td><td>flow match</td><td>Euler</td><td>flow</td><td>FlowMatchEulerDiscreteScheduler</td></tr>
 * </table>
 */
public final class Schedulers {
    private Schedulers() {
    }

    /**
     * @param steps    N, the length of the full schedule (at least 1, at most the training steps)
     * @param strength img2img strength in [0, 1]; 1 runs every step (txt2img)
     * @throws IllegalArgumentException for bad arguments, or a sampler this model type cannot use
     */
    public static Scheduler create(SamplerKind kind, SchedulerSettings settings, int steps, float strength) {
        if (kind == null) throw new IllegalArgumentException("sampler is required");
        if (settings == null) throw new IllegalArgumentException("scheduler settings are required");
        if (steps < 1) throw new IllegalArgumentException("steps must be at least 1, got " + steps);
        if (!(strength >= 0f && strength <= 1f)) {
            throw new IllegalArgumentException("strength must be between 0 and 1, got " + strength);
        }
        if (steps > settings.trainSteps()) {
            throw new IllegalArgumentException("steps must be at most the model's " + settings.trainSteps()
                    + " training timesteps, got " + steps);
        }
        int start = settings.strengthRule().startIndex(steps, strength);
        return settings.prediction() == Parameterization.FLOW
                ? flow(kind, settings, steps, start)
                : discrete(kind, settings, steps, start);
    }

    private static Scheduler flow(SamplerKind kind, SchedulerSettings settings, int steps, int start) {
        if (kind != SamplerKind.EULER && kind != SamplerKind.FLOW_EULER) {
            throw new IllegalArgumentException("sampler " + kind.apiName() + " is not available for flow-matching models;"
                    + " use " + SamplerKind.FLOW_EULER.apiName());
        }
        Schedule schedule = new FlowMatchSchedule(settings.flowShift(), settings.trainSteps(), settings.imageTokens())
                .build(steps);
        // FlowMatchEulerDiscreteScheduler draws no step noise, and the pipeline uses the noise unscaled.
        return new SchedulerRun(schedule, start, LatentSpace.FLOW, Parameterization.FLOW, new Euler(false), 1f,
                settings.timestepDivisor());
    }

    private static Scheduler discrete(SamplerKind kind, SchedulerSettings settings, int steps, int start) {
        NoiseSchedule noise = NoiseSchedule.of(settings.betas(), settings.trainSteps());
        TimestepSpacing spacing = settings.spacingFor(kind);
        int offset = settings.stepsOffset();
        Parameterization p = settings.prediction();
        float divisor = settings.timestepDivisor();
        return switch (kind) {
            case EULER, EULER_A -> {
                Schedule schedule = new SpacedSchedule(noise, spacing, offset, SpacingConvention.EULER, false).build(steps);
                Sampler sampler = kind == SamplerKind.EULER ? new Euler(true) : new EulerAncestral();
                yield new SchedulerRun(schedule, start, LatentSpace.SIGMA, p, sampler,
                        eulerInitNoiseSigma(schedule, spacing), divisor);
            }
            case DDIM -> {
                Schedule schedule = new SpacedSchedule(noise, spacing, offset, SpacingConvention.DDIM,
                        !settings.setAlphaToOne()).build(steps);
                yield new SchedulerRun(schedule, start, LatentSpace.VARIANCE_PRESERVING, p, new Ddim(), 1f, divisor);
            }
            case DPMPP_2M, DPMPP_2M_KARRAS -> {
                SigmaSchedule sigmas = kind == SamplerKind.DPMPP_2M_KARRAS
                        ? new KarrasSchedule(noise)
                        : new SpacedSchedule(noise, spacing, offset, SpacingConvention.DPM_SOLVER, false);
                yield new SchedulerRun(sigmas.build(steps), start, LatentSpace.VARIANCE_PRESERVING, p,
                        new DpmSolverMultistep(steps < 15), 1f, divisor);
            }
            case FLOW_EULER -> throw new IllegalArgumentException(
                    "sampler flow_euler needs a flow-matching model; use euler for this model");
        };
    }

    /**
     * Euler's txt2img start: the largest sigma for "linspace" / "trailing", but sqrt(sigma_max^2 + 1) for
     * "leading" (diffusers' rule, kept so that SD 1.5 matches it).
     */
    private static float eulerInitNoiseSigma(Schedule schedule, TimestepSpacing spacing) {
        float max = schedule.maxSigma();
        return spacing == TimestepSpacing.LEADING ? (float) Math.sqrt(max * max + 1f) : max;
    }
}
