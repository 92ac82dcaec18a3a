package dev.easel.diffusion.pipeline;

/**
 * How one run steers the denoiser towards the prompt: not at all, by classifier-free guidance (a second,
 * unconditional batch half and {@code uncond + scale * (cond - uncond)}), or by a scale the model takes as an
 * input (guidance-distilled models such as FLUX.1-dev).
 */
public sealed interface Guidance {

    /** Whether the batch carries an unconditional half. */
    default boolean classifierFree() {
        return this instanceof ClassifierFree;
    }

    /** No guidance: step-distilled models, or a classifier-free scale of at most 1. */
    record None() implements Guidance {
    }

    record ClassifierFree(float scale) implements Guidance {
    }

    /** The scale is a model input (FLUX.1-dev's {@code guidance}). */
    record Embedded(float scale) implements Guidance {
    }

    /** What a model of {@code kind} does with a requested {@code scale}. */
    static Guidance of(Kind kind, float scale) {
        return switch (kind) {
            case CLASSIFIER_FREE -> scale > 1f ? new ClassifierFree(scale) : new None();
            case EMBEDDED -> new Embedded(scale);
            case NONE -> new None();
        };
    }

    /** What kind of guidance a loaded model takes. */
    enum Kind {
        CLASSIFIER_FREE,
        EMBEDDED,
        /** Step-distilled without a guidance input (FLUX.1-schnell): a requested scale is ignored. */
        NONE
    }
}
