package dev.easel.server.support;

import dev.easel.server.api.EaselServer;
import dev.easel.server.auth.Tier;
import dev.easel.server.catalog.PipelineLoader;
import dev.easel.server.config.ConfigLoader;
import dev.easel.server.config.ServerConfig;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;

/**
 * A server on 127.0.0.1 and a random port, with its own data and models dirs, and keys of every tier.
 * Config overrides use the same {@code key.path=value} form as {@code --set}.
 */
public final class TestServer implements AutoCloseable {
    public final EaselServer server;
    public final ServerConfig config;
    public final Path dir;
    public final String admin;
    public final String free;
    public final String pro;
    public final String premium;

    private TestServer(EaselServer server, ServerConfig config, Path dir) {
        this.server = server;
        this.config = config;
        this.dir = dir;
        // null when the (shared) database already had keys: another node made the admin key
        this.admin = server.initialAdminSecret().orElse(null);
        this.free = server.keys().create("free user", Tier.FREE, false).secret();
        this.pro = server.keys().create("pro user", Tier.PRO, false).secret();
        this.premium = server.keys().create("premium user", Tier.PREMIUM, false).secret();
    }

    public static Builder builder() {
        return new Builder();
    }

    public String baseUrl() {
        return "http://127.0.0.1:" + server.port();
    }

    @Override
    public void close() {
        server.shutdown(Duration.ofSeconds(30));
    }

    public static final class Builder {
        private final Map<String, String> overrides = new LinkedHashMap<>();
        private PipelineLoader loader = path -> new FakePipeline();
        private final Map<String, Path> links = new LinkedHashMap<>();
        private final java.util.List<String> emptyModels = new java.util.ArrayList<>();

        private Builder() {
            // Small and fast by default: the fake (or tiny fixture) model at 64x64 with 4 steps.
            set("catalog.stable-diffusion-1.5.size", "64x64");
            set("catalog.stable-diffusion-1.5.min-size", "32");
            set("catalog.stable-diffusion-1.5.steps", "4");
            set("tiers.free.requests-per-minute", "1000");
            set("tiers.pro.requests-per-minute", "1000");
            set("tiers.premium.requests-per-minute", "1000");
            set("tiers.free.concurrent-jobs", "50");
            set("tiers.pro.concurrent-jobs", "50");
            set("tiers.premium.concurrent-jobs", "50");
        }

        public Builder set(String key, String value) {
            overrides.put(key, value);
            return this;
        }

        public Builder loader(PipelineLoader loader) {
            this.loader = loader;
            return this;
        }

        /** Puts a model under {@code name} in the models dir: a link to a real checkpoint. */
        public Builder model(String name, Path target) {
            links.put(name, target);
            return this;
        }

        /** Puts an (empty) diffusers folder under {@code name}: enough for the fake loader. */
        public Builder fakeModel(String name) {
            emptyModels.add(name);
            return this;
        }

        public TestServer start() {
            try {
                Path dir = Files.createTempDirectory("easel-test");
                Path models = Files.createDirectories(dir.resolve("models"));
                for (var e : links.entrySet()) Files.createSymbolicLink(models.resolve(e.getKey()), e.getValue().toAbsolutePath());
                for (String name : emptyModels) {
                    Path m = Files.createDirectories(models.resolve(name));
                    Files.writeString(m.resolve("model_index.json"), "{\"_class_name\": \"StableDiffusionPipeline\"}");
                }
                Map<String, String> all = new LinkedHashMap<>();
                all.put("host", "127.0.0.1");
                all.put("port", "0");
                all.put("data-dir", dir.resolve("data").toString());
                all.put("models-dir", models.toString());
                all.putAll(overrides);
                ServerConfig config = new ConfigLoader().load(Optional.empty(), Map.of(), all);
                return new TestServer(EaselServer.start(config, loader), config, dir);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
    }
}
