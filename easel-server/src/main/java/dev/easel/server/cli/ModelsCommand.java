package dev.easel.server.cli;

import dev.easel.server.config.ConfigException;
import dev.easel.server.config.ServerConfig;
import dev.easel.server.hub.HubClient;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.util.Optional;
import java.util.concurrent.Callable;

/** {@code easel models}: the catalog, what is installed and what {@code easel pull} would fetch. */
@Command(name = "models", mixinStandardHelpOptions = true,
        description = "Lists every catalog model, its files (in place or missing, sizes, hub source) and how to install it.")
public final class ModelsCommand implements Callable<Integer> {

    @Mixin
    ConfigOptions options = new ConfigOptions();

    @Option(names = "--offline", description = "Do not ask the hub the sizes of missing files.")
    boolean offline;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
        ServerConfig config;
        try {
            config = options.load();
        } catch (ConfigException e) {
            spec.commandLine().getErr().println("easel models: " + e.getMessage());
            return 2;
        }
        Optional<HubClient> hub = offline ? Optional.empty()
                : Optional.of(HubClient.fromEnvironment(config.hub().endpoint(), System.getenv()));
        ModelListing.print(config, hub, spec.commandLine().getOut());
        return 0;
    }
}
