package dev.easel.diffusion.scheduler;

import com.fasterxml.jackson.databind.JsonNode;

/**
 * Reads a diffusers {@code scheduler_config.json} (class name + config): the family's {@link SchedulerSettings}
 * and the sampler the model ships with. Keys asking for behaviour not implemented here (zero-SNR rescaling,
 * thresholding, sample clipping, custom betas, other solvers) are refused with a message naming the key, rather
 * than silently producing different images. Missing keys take diffusers' defaults, except two DDIM keys that the
 * Euler configs of SD models leave out: {@code clip_sample} and {@code set_alpha_to_one} are then false, as in
 * every released SD / SDXL scheduler config (clipping latents to [-1, 1] would be wrong for latent diffusion).
 */
public final class DiffusersSchedulerConfig {
    static final String FLOW_MATCH_EULER = "FlowMatchEulerDiscreteScheduler";

    private DiffusersSchedulerConfig() {
    }

    public static SchedulerSettings settings(String className, JsonNode config) {
        int trainSteps = config.path("num_train_timesteps").asInt(1000);
        if (FLOW_MATCH_EULER.equals(className)) {
            refuseTrue(config, "use_karras_sigmas", "use_exponential_sigmas", "use_beta_sigmas", "invert_sigmas");
            refuseSet(config, "shift_terminal");
            String timeShift = text(config, "time_shift_type", "exponential");
            if (!timeShift.equals("exponential")) refuse("time_shift_type", timeShift);
            FlowShift shift = new FlowShift(
                    config.path("shift").asDouble(1.0),
                    config.path("use_dynamic_shifting").asBoolean(false),
                    config.path("base_shift").asDouble(0.5),
                    config.path("max_shift").asDouble(1.15),
                    config.path("base_image_seq_len").asInt(256),
                    config.path("max_image_seq_len").asInt(4096));
            return SchedulerSettings.flow(trainSteps, shift);
        }
        refuseSet(config, "trained_betas", "sigma_min", "sigma_max");
        refuseTrue(config, "rescale_betas_zero_snr", "thresholding", "clip_sample");
        String timestepType = text(config, "timestep_type", "discrete");
        if (!timestepType.equals("discrete")) refuse("timestep_type", timestepType);
        String interpolation = text(config, "interpolation_type", "linear");
        if (!interpolation.equals("linear")) refuse("interpolation_type", interpolation);
        BetaSchedule betas = new BetaSchedule(
                config.path("beta_start").asDouble(0.0001),
                config.path("beta_end").asDouble(0.02),
                betaKind(text(config, "beta_schedule", "linear")));
        Parameterization prediction = Parameterization.parse(text(config, "prediction_type", "epsilon"));
        if (prediction == Parameterization.FLOW) refuse("prediction_type", "flow_prediction");
        String spacing = text(config, "timestep_spacing", null);
        return SchedulerSettings.discrete(prediction, trainSteps, betas,
                spacing == null ? null : TimestepSpacing.parse(spacing),
                config.path("steps_offset").asInt(0),
                config.path("set_alpha_to_one").asBoolean(false));
    }

    /** The sampler a diffusers scheduler class with this config amounts to. */
    public static SamplerKind samplerKind(String className, JsonNode config) {
        return switch (className) {
            case "EulerDiscreteScheduler" -> {
                refuseTrue(config, "use_karras_sigmas", "use_exponential_sigmas", "use_beta_sigmas");
                requireFinalSigmaZero(config);
                yield SamplerKind.EULER;
            }
            case "EulerAncestralDiscreteScheduler" -> SamplerKind.EULER_A;
            case "DDIMScheduler" -> SamplerKind.DDIM;
            case "DPMSolverMultistepScheduler" -> {
                require(config, "algorithm_type", "dpmsolver++");
                require(config, "solver_type", "midpoint");
                if (config.path("solver_order").asInt(2) != 2) refuse("solver_order", config.path("solver_order").asText());
                requireFinalSigmaZero(config);
                refuseTrue(config, "euler_at_final", "use_lu_lambdas", "use_exponential_sigmas", "use_beta_sigmas",
                        "use_flow_sigmas");
                refuseSet(config, "variance_type");
                JsonNode clipped = config.path("lambda_min_clipped");
                if (!clipped.isMissingNode() && !clipped.isNull() && clipped.asDouble() != Double.NEGATIVE_INFINITY
                        && !clipped.asText().equals("-Infinity")) {
                    refuse("lambda_min_clipped", clipped.asText());
                }
                yield config.path("use_karras_sigmas").asBoolean(false) ? SamplerKind.DPMPP_2M_KARRAS : SamplerKind.DPMPP_2M;
            }
            case FLOW_MATCH_EULER -> SamplerKind.FLOW_EULER;
            default -> throw new IllegalArgumentException("scheduler class " + className + " is not implemented; "
                    + "supported: EulerDiscreteScheduler, EulerAncestralDiscreteScheduler, DDIMScheduler, "
                    + "DPMSolverMultistepScheduler, " + FLOW_MATCH_EULER);
        };
    }

    private static BetaSchedule.Kind betaKind(String name) {
        return switch (name) {
            case "linear" -> BetaSchedule.Kind.LINEAR;
            case "scaled_linear" -> BetaSchedule.Kind.SCALED_LINEAR;
            default -> throw new IllegalArgumentException("unsupported beta_schedule '" + name
                    + "'; supported: linear, scaled_linear");
        };
    }

    private static void requireFinalSigmaZero(JsonNode config) {
        require(config, "final_sigmas_type", "zero");
    }

    private static void require(JsonNode config, String key, String expected) {
        String value = text(config, key, expected);
        if (!value.equals(expected)) refuse(key, value);
    }

    private static String text(JsonNode config, String key, String fallback) {
        JsonNode v = config.path(key);
        return v.isMissingNode() || v.isNull() ? fallback : v.asText();
    }

    private static void refuseTrue(JsonNode config, String... keys) {
        for (String key : keys) {
            if (config.path(key).asBoolean(false)) refuse(key, "true");
        }
    }

    private static void refuseSet(JsonNode config, String... keys) {
        for (String key : keys) {
            JsonNode v = config.path(key);
            if (!v.isMissingNode() && !v.isNull()) refuse(key, v.toString());
        }
    }

    private static void refuse(String key, String value) {
        throw new IllegalArgumentException("scheduler config " + key + "=" + value + " is not supported");
    }
}
