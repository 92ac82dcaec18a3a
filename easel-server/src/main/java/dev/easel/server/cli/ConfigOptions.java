package dev.easel.server.cli;

import dev.easel.server.config.ConfigLoader;
import dev.easel.server.config.ServerConfig;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;

/** The configuration flags shared by {@code easel serve} and {@code easel keys}. */
public final class ConfigOptions {

    @Option(names = "--config", paramLabel = "FILE",
            description = "YAML configuration file (default: $EASEL_CONFIG). Keys as in the embedded defaults.")
    Path config;

    @Option(names = "--port", description = "Port to listen on (default 8080, $EASEL_PORT; 0 = any free port).")
    Integer port;

    @Option(names = "--host", description = "Address to bind (default 0.0.0.0, $EASEL_HOST).")
    String host;

    @Option(names = "--data-dir", paramLabel = "DIR", description = "Keys, usage and served images (default ./data, $EASEL_DATA_DIR).")
    Path dataDir;

    @Option(names = "--models-dir", paramLabel = "DIR", description = "Checkpoints (default ./models, $EASEL_MODELS_DIR).")
    Path modelsDir;

    @Option(names = "--set", paramLabel = "KEY=VALUE", mapFallbackValue = "",
            description = "Sets any configuration key, e.g. --set tiers.free.images-per-day=50 "
                    + "--set catalog.stable-diffusion-1.5.steps=30. Repeatable.")
    Map<String, String> set = new LinkedHashMap<>();

    ServerConfig load() {
        Map<String, String> env = System.getenv();
        Map<String, String> overrides = new LinkedHashMap<>(set);
        if (port != null) overrides.put("port", String.valueOf(port));
        if (host != null) overrides.put("host", host);
        if (dataDir != null) overrides.put("data-dir", dataDir.toString());
        if (modelsDir != null) overrides.put("models-dir", modelsDir.toString());
        Optional<Path> file = Optional.ofNullable(config)
                .or(() -> Optional.ofNullable(env.get("EASEL_CONFIG")).filter(s -> !s.isBlank()).map(Path::of));
        return new ConfigLoader().load(file, env, overrides);
    }
}
