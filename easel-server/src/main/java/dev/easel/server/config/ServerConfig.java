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
        Map<String, ModelConfig> catalog,
        Database database,
        Webhooks webhooks,
        Jobs jobs,
        Hub hub) {

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

    /**
     * Where keys, usage, limits and jobs live.
     *
     * @param url empty = SQLite in the data dir; {@code jdbc:postgresql://...} = a PostgreSQL that several nodes share
     */
    public record Database(String url, String user, String password, int poolSize) {
        public boolean shared() {
            return url != null && url.startsWith("jdbc:postgresql:");
        }
    }

    /**
     * Webhook delivery.
     *
     * @param allowedNetworks comma-separated CIDR ranges that may be targeted although they are private, loopback or
     *                        link-local (refused otherwise), e.g. "127.0.0.0/8"
     */
    public record Webhooks(String allowedNetworks, int maxAttempts, long initialBackoffMillis, int timeoutSeconds) {
    }

    /**
     * Job records and the leases of several nodes.
     *
     * @param node           this node's name in job records and leases (empty = host name and process id)
     * @param leaseSeconds   how long a job's hold on its key's limits outlives its node: renewed while the job lives,
     *                       so the places held by a node that died free themselves
     */
    public record Jobs(String node, int leaseSeconds) {
    }

    /**
     * Where {@code easel pull} and {@code easel serve --pull} fetch catalog models from.
     *
     * @param endpoint      a Hugging Face-compatible hub; empty = {@code $HF_ENDPOINT}, else the public hub
     * @param pullMissing   a request for a catalog model whose files are missing starts their download (503 meanwhile)
     * @param parallelFiles files downloaded at once
     * @param retries       times an interrupted transfer is resumed before the pull gives up (the next run resumes)
     */
    public record Hub(String endpoint, boolean pullMissing, int parallelFiles, int retries) {
    }

    /**
     * One file a catalog model needs, and where it comes from.
     *
     * @param repo     hub repository, "owner/name"
     * @param revision branch, tag or commit; null = main
     * @param path     the file's path in the repository
     * @param as       where it goes, relative to the models dir; null = the file name of {@code path}
     */
    public record FileSource(String repo, String revision, String path, String as) {
        public String revisionOrMain() {
            return revision == null || revision.isBlank() ? "main" : revision;
        }

        public String target() {
            if (as != null && !as.isBlank()) return as;
            int slash = path.lastIndexOf('/');
            return slash < 0 ? path : path.substring(slash + 1);
        }

        /** {@code owner/name:path}, or {@code owner/name@rev:path} off main. */
        public String describe() {
            return repo + (revisionOrMain().equals("main") ? "" : "@" + revision) + ":" + path;
        }
    }

    /** What one tier of keys may do. */
    public record TierLimits(int requestsPerMinute, int concurrentJobs, int imagesPerDay, int maxN) {
    }

    /**
     * One catalog entry. Every field but {@code family} may be left out: the family's defaults apply.
     *
     * @param path where the weights are, relative to the models dir; default: found by the API id
     * @param files the files the model needs and where {@code easel pull} gets them; empty = not pullable
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
            String t5,
            String weights,
            java.util.List<FileSource> files) {

        public java.util.List<FileSource> filesOrEmpty() {
            return files == null ? java.util.List.of() : files;
        }
    }
}
