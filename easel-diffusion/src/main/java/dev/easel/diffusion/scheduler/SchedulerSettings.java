package dev.easel.diffusion.scheduler;

/**
 * What a model family contributes to its schedulers, whatever sampler the user picks: how the model was trained
 * (parameterization, training steps, betas or flow shift), its default timestep spacing, and the pipeline
 * conventions around the scheduler. Build it from a diffusers {@code scheduler_config.json} with
 * {@link DiffusersSchedulerConfig#settings}, or take a preset.
 *
 * @param prediction      what the denoiser outputs (axis 2)
 * @param trainSteps      number of training timesteps T ({@code num_train_timesteps})
 * @param betas           training noise of a discrete-time model; null for flow matching
 * @param spacing         the family's timestep spacing, or null to let each sampler use its own default, as
 *                        diffusers' {@code from_config} does for a config without {@code timestep_spacing}
 * @param stepsOffset     added to "leading" timesteps ({@code steps_offset})
 * @param setAlphaToOne   DDIM's last step goes to alpha 1 (sigma 0) when true, else to alphas_cumprod[0]
 * @param flowShift       time shift of a flow-matching schedule; null for discrete-time models
 * @param timestepDivisor the denoiser gets {@code timestep / timestepDivisor} (Flux: 1000, its model input is
 *                        sigma; everything else: 1)
 * @param strengthRule    how img2img strength picks the first step
 * @param imageTokens     packed latent tokens of the image being made, for a dynamic flow shift; 0 when unknown
 */
public record SchedulerSettings(
        Parameterization prediction,
        int trainSteps,
        BetaSchedule betas,
        TimestepSpacing spacing,
        int stepsOffset,
        boolean setAlphaToOne,
        FlowShift flowShift,
        float timestepDivisor,
        StrengthRule strengthRule,
        int imageTokens) {

    public SchedulerSettings {
        if (prediction == null) throw new IllegalArgumentException("prediction type is required");
        if (trainSteps < 2) throw new IllegalArgumentException("num_train_timesteps must be at least 2, got " + trainSteps);
        if (prediction == Parameterization.FLOW && flowShift == null) {
            throw new IllegalArgumentException("a flow-matching model needs a flow shift");
        }
        if (prediction != Parameterization.FLOW && betas == null) {
            throw new IllegalArgumentException("a " + prediction + " model needs its training betas");
        }
        if (stepsOffset < 0) throw new IllegalArgumentException("steps_offset must not be negative, got " + stepsOffset);
        if (!(timestepDivisor > 0)) throw new IllegalArgumentException("timestep divisor must be positive, got " + timestepDivisor);
        if (strengthRule == null) throw new IllegalArgumentException("strength rule is required");
        if (imageTokens < 0) throw new IllegalArgumentException("image token count must not be negative, got " + imageTokens);
    }

    /** A discrete-time (DDPM-trained) model. */
    public static SchedulerSettings discrete(Parameterization prediction, int trainSteps, BetaSchedule betas,
                                             TimestepSpacing spacing, int stepsOffset, boolean setAlphaToOne) {
        return new SchedulerSettings(prediction, trainSteps, betas, spacing, stepsOffset, setAlphaToOne, null, 1f,
                StrengthRule.ROUND_DOWN_STEPS_RUN, 0);
    }

    /** A flow-matching (rectified-flow) model. */
    public static SchedulerSettings flow(int trainSteps, FlowShift shift) {
        return new SchedulerSettings(Parameterization.FLOW, trainSteps, null, null, 0, false, shift, 1f,
                StrengthRule.ROUND_DOWN_START, 0);
    }

    /** Stable Diffusion 1.5 (runwayml scheduler config): epsilon, leading spacing with offset 1, DDIM ends at alphas_cumprod[0]. */
    public static SchedulerSettings sd15() {
        return discrete(Parameterization.EPSILON, 1000, BetaSchedule.stableDiffusion(), TimestepSpacing.LEADING, 1, false);
    }

    /** SDXL as served here (Lightning and the fixtures' config): epsilon, trailing spacing. */
    public static SchedulerSettings sdxl() {
        return discrete(Parameterization.EPSILON, 1000, BetaSchedule.stableDiffusion(), TimestepSpacing.TRAILING, 1, false);
    }

    /** Flux.1-schnell: no shift; the transformer takes sigma as its timestep. */
    public static SchedulerSettings fluxSchnell() {
        return flow(1000, FlowShift.fixed(1.0)).withTimestepDivisor(1000f);
    }

    /** Flux.1-dev: dynamic shift from the image size (set {@link #withImageTokens}). */
    public static SchedulerSettings fluxDev() {
        return flow(1000, FlowShift.fluxDynamic()).withTimestepDivisor(1000f);
    }

    /** The spacing a sampler runs with: the family's, or the sampler's own default when the family has none. */
    public TimestepSpacing spacingFor(SamplerKind kind) {
        if (spacing != null) return spacing;
        return kind == SamplerKind.DDIM ? TimestepSpacing.LEADING : TimestepSpacing.LINSPACE;
    }

    public SchedulerSettings withImageTokens(int tokens) {
        return new SchedulerSettings(prediction, trainSteps, betas, spacing, stepsOffset, setAlphaToOne, flowShift,
                timestepDivisor, strengthRule, tokens);
    }

    public SchedulerSettings withTimestepDivisor(float divisor) {
        return new SchedulerSettings(prediction, trainSteps, betas, spacing, stepsOffset, setAlphaToOne, flowShift,
                divisor, strengthRule, imageTokens);
    }

    public SchedulerSettings withSpacing(TimestepSpacing newSpacing) {
        return new SchedulerSettings(prediction, trainSteps, betas, newSpacing, stepsOffset, setAlphaToOne, flowShift,
                timestepDivisor, strengthRule, imageTokens);
    }

    public SchedulerSettings withStrengthRule(StrengthRule rule) {
        return new SchedulerSettings(prediction, trainSteps, betas, spacing, stepsOffset, setAlphaToOne, flowShift,
                timestepDivisor, rule, imageTokens);
    }
}
