package dev.easel.diffusion.pipeline;

/**
 * A model's default recipe (overridable per catalog entry and per request).
 *
 * @param strength image-to-image strength when an edit without a mask gives none; an edit with a mask repaints its
 *                 area from pure noise (strength 1) unless told otherwise, as OpenAI's masked edits do
 */
public record ModelDefaults(int width, int height, int steps, float guidanceScale, String sampler, float strength) {

    /** The strength an edit runs with when the request gives none. */
    public float editStrength(boolean masked) {
        return masked ? 1f : strength;
    }

    public ModelDefaults withSize(int newWidth, int newHeight) {
        return new ModelDefaults(newWidth, newHeight, steps, guidanceScale, sampler, strength);
    }

    public ModelDefaults withSteps(int newSteps) {
        return new ModelDefaults(width, height, newSteps, guidanceScale, sampler, strength);
    }

    public ModelDefaults withGuidanceScale(float scale) {
        return new ModelDefaults(width, height, steps, scale, sampler, strength);
    }

    public ModelDefaults withSampler(String newSampler) {
        return new ModelDefaults(width, height, steps, guidanceScale, newSampler, strength);
    }
}
