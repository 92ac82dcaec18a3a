package dev.easel.server.cli;

import dev.easel.engine.runtime.PreparedModelCache;
import dev.easel.server.api.EaselServer;
import dev.easel.server.catalog.DiffusionPipelineLoader;
import dev.easel.server.config.ConfigException;
import dev.easel.server.config.ServerConfig;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.io.PrintStream;
import java.time.Duration;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;

/** {@code easel serve}: the OpenAI-compatible image API. */
@Command(name = "serve", mixinStandardHelpOptions = true,
        description = {"Serves the OpenAI-compatible image API (POST /v1/images/generations, /v1/images/edits).",
                "On the first start an admin key is created and printed once."})
public final class ServeCommand implements Callable<Integer> {

    @Mixin
    ConfigOptions options = new ConfigOptions();

    @Option(names = "--pull", description = {"A request for a catalog model whose files are missing downloads them from the hub "
            + "(answered 503 with Retry-After meanwhile; GET /v1/models shows the progress). Same as hub.pull-missing=true."})
    boolean pull;

    @Override
    public Integer call() {
        if (pull) options.set.put("hub.pull-missing", "true");
        ServerConfig config;
        try {
            config = options.load();
        } catch (ConfigException e) {
            System.err.println("easel serve: " + e.getMessage());
            return 2;
        }
        EaselServer server = EaselServer.start(config, new DiffusionPipelineLoader(config.preparedModelCacheDir()
                .map(dir -> PreparedModelCache.open(dir, config.preparedModelCacheMaxBytes()))));
        PrintStream out = System.out;
        server.initialAdminSecret().ifPresent(secret -> {
            out.println("Created the first admin key. It is shown only this once: store it now.");
            out.println("Create keys for users with `easel keys create --tier pro --name NAME` or POST /v1/admin/keys.");
            out.println(secret);
            out.flush();
        });
        out.println("Easel is serving on port " + server.port() + " (models: " + config.modelsDir().toAbsolutePath() + ")");
        out.flush();
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(Thread.ofPlatform().unstarted(() -> {
            server.shutdown(Duration.ofSeconds(config.queue().shutdownTimeoutSeconds()));
            stopped.countDown();
        }));
        try {
            stopped.await();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        return 0;
    }
}
