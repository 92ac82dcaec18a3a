package dev.easel.diffusion.pipeline;

/** A family's default recipe (overridable per catalog entry and per request). */
public record ModelDefaults(int width, int height, int steps, float guidanceScale, String sampler) {
}
