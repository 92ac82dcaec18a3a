package dev.easel.server.config;

import java.nio.file.Path;
import java.util.Map;

/**
 * The whole server configuration, as bound from {@code defaults.yaml} plus the operator's file,
 * environment and flags (see {@link ConfigLoader}). Field names are the YAML keys in kebab case.
 */
public record ServerConfig(
        String host,
        int port,
        Path dataDir,
        Path modelsDir,
        String publicUrl,
        String defaultModel,
        String detectedModelTier,
        long modelMemoryBudgetMb,
        String cacheDir,
        double cacheMaxGb,
        Limits limits,
        Queue queue,
        Images images,
        Metrics metrics,
        Map<String, TierLimits> tiers,
        Map<String, ModelConfig> catalog) {

    public ServerConfig {
        tiers = Map.copyOf(tiers);
        catalog = catalog == null ? Map.of() : java.util.Collections.unmodifiableMap(new java.util.LinkedHashMap<>(catalog));
    }

    /** The prepared-model cache's folder: {@code cache-dir}, or {@code <data-dir>/cache} when unset; empty when "off". */
    public java.util.Optional<Path> preparedModelCacheDir() {
        if (cacheDir == null || cacheDir.isBlank()) return java.util.Optional.of(dataDir.resolve("cache"));
        if (cacheDir.equals("off")) return java.util.Optional.empty();
        return java.util.Optional.of(Path.of(cacheDir));
    }

    /** {@code cache-max-gb} in bytes (0: no bound). */
    public long preparedModelCacheMaxBytes() {
        return (long) (cacheMaxGb * 1e9);
    }

    /** Bounds checked on every request before any work is done. */
    public record Limits(
            int maxBodyMb,
            int maxPromptChars,
            int maxNegativePromptChars,
            int maxUserChars,
            int maxInputSide,
            long maxInputPixels,
            int maxInputImages,
            int maxSteps) {

        public long maxBodyBytes() {
            return maxBodyMb * 1024L * 1024L;
        }
    }

    /**
     * @param maxBatchImages waiting text-to-image jobs of the same model and recipe are merged into one batch
     *                       of up to this many images; 1 = every job runs alone
     */
    public record Queue(int capacity, int requestTimeoutSeconds, int shutdownTimeoutSeconds, int maxBatchImages) {
    }

    public record Images(int urlTtlSeconds) {
    }

    public record Metrics(boolean enabled) {
    }

    /** What one tier of keys may do. */
    public record TierLimits(int requestsPerMinute, int concurrentJobs, int imagesPerDay, int maxN) {
    }

    /**
     * One catalog entry. Every field but {@code family} may be left out: the family's defaults apply.
     *
     * @param path where the weights are, relative to the models dir; default: found by the API id
     */
    public record ModelConfig(
            String family,
            String tier,
            String description,
            String size,
            Integer minSize,
            Integer maxSize,
            Integer steps,
            Float guidanceScale,
            String sampler,
            String path,
            String vae,
            String clipL,
            String t5) {
    }
}
