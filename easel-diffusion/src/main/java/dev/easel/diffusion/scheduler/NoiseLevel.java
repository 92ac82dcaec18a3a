package dev.easel.diffusion.scheduler;

/**
 * The latents' noise level as a sampler holds them: {@code x = alpha * x0 + sigma * noise}, and the model input
 * is {@code x / inputDivisor} (the model's own scaling of the same state).
 */
public record NoiseLevel(float alpha, float sigma, float inputDivisor) {
}
