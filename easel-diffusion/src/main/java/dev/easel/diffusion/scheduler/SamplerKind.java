package dev.easel.diffusion.scheduler;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The samplers a user can ask for, by the names diffusion users know (A1111 / ComfyUI / diffusers). Each kind
 * fixes the sampler and, for Karras, the sigma schedule; the model family's {@link SchedulerSettings} supply the
 * rest (training betas, parameterization, timestep spacing).
 */
public enum SamplerKind {
    /** Euler (diffusers EulerDiscreteScheduler); on flow-matching models the same thing as {@link #FLOW_EULER}. */
    EULER("euler", "k_euler", "euler_discrete"),
    /** Euler ancestral, A1111 "Euler a". */
    EULER_A("euler_a", "euler_ancestral", "k_euler_a", "k_euler_ancestral", "euler_ancestral_discrete"),
    /** DDIM with eta 0. */
    DDIM("ddim"),
    /** DPM++ 2M on Karras sigmas, A1111 "DPM++ 2M Karras". */
    DPMPP_2M_KARRAS("dpmpp_2m_karras", "dpm++_2m_karras", "k_dpmpp_2m_karras"),
    /** DPM++ 2M on the family's timestep spacing. */
    DPMPP_2M("dpmpp_2m", "dpm++_2m", "k_dpmpp_2m"),
    /** Euler on a flow-matching model (diffusers FlowMatchEulerDiscreteScheduler). */
    FLOW_EULER("flow_euler", "flow_match_euler", "flowmatch_euler", "euler_flow");

    private final String apiName;
    private final List<String> aliases;

    SamplerKind(String apiName, String... aliases) {
        this.apiName = apiName;
        this.aliases = List.of(aliases);
    }

    /** The name this API documents and returns, e.g. {@code "dpmpp_2m_karras"}. */
    public String apiName() {
        return apiName;
    }

    /**
     * Reads a user's sampler name. Case, spaces, dashes and underscores do not matter and "++" may be written
     * "pp": {@code "Euler a"}, {@code "euler_ancestral"}, {@code "DPM++ 2M Karras"}, {@code "dpmpp_2m_karras"}.
     *
     * @throws IllegalArgumentException for an unknown or blank name; the message lists the accepted names
     */
    public static SamplerKind parse(String userName) {
        if (userName == null || userName.isBlank()) {
            throw new IllegalArgumentException("no sampler given; accepted samplers: " + acceptedNames());
        }
        String key = normalize(userName);
        for (SamplerKind kind : values()) {
            if (normalize(kind.apiName).equals(key)) return kind;
            for (String alias : kind.aliases) {
                if (normalize(alias).equals(key)) return kind;
            }
        }
        throw new IllegalArgumentException("unknown sampler '" + userName + "'; accepted samplers: " + acceptedNames());
    }

    /** The canonical names with their aliases, for error messages and documentation. */
    public static String acceptedNames() {
        List<String> parts = new ArrayList<>();
        for (SamplerKind kind : values()) {
            parts.add(kind.aliases.isEmpty() ? kind.apiName : kind.apiName + " (also " + String.join(", ", kind.aliases) + ")");
        }
        return String.join("; ", parts);
    }

    private static String normalize(String name) {
        return name.trim().toLowerCase(Locale.ROOT).replace("++", "pp").replaceAll("[\\s_\\-]+", "");
    }
}
