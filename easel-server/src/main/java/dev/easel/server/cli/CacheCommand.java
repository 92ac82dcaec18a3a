package dev.easel.server.cli;

import dev.easel.engine.runtime.PreparedModelCache;
import dev.easel.server.config.ConfigException;
import dev.easel.server.config.ServerConfig;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

/** {@code easel cache list|clear}: the prepared-model cache of the server (its config) or of the CLI. */
@Command(name = "cache", mixinStandardHelpOptions = true,
        description = "Lists or clears the prepared-model cache (weights converted and graphs optimized, per model component).",
        subcommands = {CacheCommand.ListEntries.class, CacheCommand.Clear.class})
public final class CacheCommand {
    /** The CLI's own default ({@code easel generate}): $EASEL_CACHE_DIR, else the user's cache folder. */
    static final long CLI_MAX_BYTES = 100_000_000_000L;

    static Path cliDefaultDir() {
        String env = System.getenv("EASEL_CACHE_DIR");
        if (env != null && !env.isBlank()) return Path.of(env);
        String xdg = System.getenv("XDG_CACHE_HOME");
        Path base = xdg != null && !xdg.isBlank() ? Path.of(xdg) : Path.of(System.getProperty("user.home"), ".cache");
        return base.resolve("easel").resolve("prepared-models");
    }

    static PreparedModelCache openForCli(Path dir) {
        return PreparedModelCache.open(dir != null ? dir : cliDefaultDir(), CLI_MAX_BYTES);
    }

    /** Which cache a subcommand works on: --cache-dir, else --cli's, else the server's from its configuration. */
    static final class Target {
        @Mixin
        ConfigOptions config = new ConfigOptions();

        @Option(names = "--cache-dir", paramLabel = "DIR", description = "The cache folder (default: the server's, from its configuration).")
        Path cacheDir;

        @Option(names = "--cli", description = "The cache `easel generate` uses by default ($EASEL_CACHE_DIR or ~/.cache/easel/prepared-models).")
        boolean cli;

        PreparedModelCache open(CommandSpec spec) {
            if (cacheDir != null) return PreparedModelCache.open(cacheDir, 0);
            if (cli) return PreparedModelCache.open(cliDefaultDir(), 0);
            ServerConfig server;
            try {
                server = config.load();
            } catch (ConfigException e) {
                throw new ParameterException(spec.commandLine(), e.getMessage());
            }
            return PreparedModelCache.open(server.preparedModelCacheDir().orElseThrow(() -> new ParameterException(spec.commandLine(),
                    "the server's configuration turns the cache off (cache-dir: off); name one with --cache-dir")), 0);
        }
    }

    @Command(name = "list", mixinStandardHelpOptions = true, description = "Lists the prepared models, most recently used first.")
    static final class ListEntries implements Callable<Integer> {
        @Spec
        CommandSpec spec;

        @Mixin
        Target target = new Target();

        @Override
        public Integer call() {
            PreparedModelCache cache = target.open(spec);
            PrintWriter out = spec.commandLine().getOut();
            List<PreparedModelCache.Entry> entries = cache.list();
            out.println(cache.dir());
            out.printf("%-32s  %-14s %-16s %9s  %-20s  %s%n", "KEY", "COMPONENT", "GRAPH", "SIZE", "LAST USED", "CREATED");
            for (PreparedModelCache.Entry e : entries) {
                out.printf("%-32s  %-14s %-16s %9s  %-20s  %s%n", e.key(), e.component(), e.graph(), size(e.bytes()),
                        e.lastUsed().toString().substring(0, 19).replace('T', ' '), e.created().toString().substring(0, 19).replace('T', ' '));
            }
            out.printf("%d entries, %s%n", entries.size(), size(entries.stream().mapToLong(PreparedModelCache.Entry::bytes).sum()));
            out.flush();
            return 0;
        }
    }

    @Command(name = "clear", mixinStandardHelpOptions = true,
            description = "Deletes every prepared model (those being loaded right now are kept).")
    static final class Clear implements Callable<Integer> {
        @Spec
        CommandSpec spec;

        @Mixin
        Target target = new Target();

        @Override
        public Integer call() {
            PreparedModelCache cache = target.open(spec);
            long freed = cache.clear();
            PrintWriter out = spec.commandLine().getOut();
            out.printf("cleared %s: %s freed, %d entries left%n", cache.dir(), size(freed), cache.list().size());
            out.flush();
            return 0;
        }
    }

    /** Bytes in the largest unit that keeps them above 1: a small entry must not read as "0.00 GB". */
    static String size(long bytes) {
        if (bytes < 1_000) return bytes + " B";
        if (bytes < 1_000_000) return String.format(Locale.ROOT, "%.1f kB", bytes / 1e3);
        if (bytes < 1_000_000_000) return String.format(Locale.ROOT, "%.1f MB", bytes / 1e6);
        return String.format(Locale.ROOT, "%.2f GB", bytes / 1e9);
    }
}
