package dev.easel.server.cli;

import dev.easel.server.config.ConfigException;
import dev.easel.server.config.ServerConfig;
import dev.easel.server.config.ServerConfig.FileSource;
import dev.easel.server.hub.Bytes;
import dev.easel.server.hub.HubClient;
import dev.easel.server.hub.ModelPuller;
import dev.easel.server.hub.PullException;
import dev.easel.server.hub.PullTarget;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;

/** {@code easel pull}: a catalog model's files, or any hub file, into the models dir; resumable and verified. */
@Command(name = "pull", mixinStandardHelpOptions = true,
        description = {"Downloads a catalog model's files (or one hub file) into the models dir from a Hugging Face-compatible "
                + "hub ($HF_ENDPOINT, default https://huggingface.co; token for gated repositories: $HF_TOKEN).",
                "Each file is checked against the hub's SHA-256 before it takes its name; an interrupted pull resumes "
                        + "where it stopped when run again.",
                "Examples: easel pull stable-diffusion-1.5    easel pull flux.1-schnell    "
                        + "easel pull city96/FLUX.1-schnell-gguf:flux1-schnell-Q4_0.gguf    easel pull --list"})
public final class PullCommand implements Callable<Integer> {

    @Mixin
    ConfigOptions options = new ConfigOptions();

    @Parameters(arity = "0..*", paramLabel = "MODEL",
            description = "A catalog id (see `easel models`) or a hub file: owner/name[@revision]:path/in/repo")
    List<String> targets = new ArrayList<>();

    @Option(names = "--list", description = "Lists every catalog model, its files, installed or not, and their sizes.")
    boolean list;

    @Option(names = "--offline", description = "With --list: do not ask the hub the sizes of missing files.")
    boolean offline;

    @Option(names = "--as", paramLabel = "PATH", description = "For a hub file: where it goes in the models dir (default: its file name).")
    String as;

    @Option(names = "--parallel", paramLabel = "N", description = "Files downloaded at once (default hub.parallel-files, 4).")
    Integer parallel;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        ServerConfig config;
        try {
            config = options.load();
        } catch (ConfigException e) {
            err.println("easel pull: " + e.getMessage());
            return 2;
        }
        HubClient hub = HubClient.fromEnvironment(config.hub().endpoint(), System.getenv());
        if (list) {
            ModelListing.print(config, offline ? Optional.empty() : Optional.of(hub), out);
            return 0;
        }
        if (targets.isEmpty()) {
            err.println("easel pull: name a catalog model or a hub file (owner/name:path); `easel models` lists the catalog");
            return 2;
        }
        try {
            List<FileSource> files = new ArrayList<>();
            List<PullTarget> parsed = new ArrayList<>();
            for (String spec : targets) {
                PullTarget t = PullTarget.parse(spec, config, as).orElseThrow(() -> new PullException("'" + spec
                        + "' is neither a catalog model (" + String.join(", ", config.catalog().keySet())
                        + ") nor a hub file owner/name:path/in/repo"));
                parsed.add(t);
                files.addAll(t.files());
            }
            int n = parallel != null ? Math.max(1, parallel) : config.hub().parallelFiles();
            ModelPuller puller = new ModelPuller(hub, config.modelsDir(), ModelPuller.Options.of(n, config.hub().retries()));
            ModelPuller.Plan plan = puller.plan(files);
            int present = plan.files().size() - plan.missing().size();
            out.println(String.join(", ", targets) + ": " + plan.files().size() + " file(s)"
                    + (present > 0 ? ", " + present + " already in place" : "")
                    + (plan.missing().isEmpty() ? "" : ", " + plan.missing().size() + " to download ("
                    + Bytes.format(plan.bytesToDownload()) + ") from " + hub.endpoint()));
            out.flush();
            puller.pull(plan, new PullProgress(err, PullProgress.onTerminal(), plan.missing()));
            for (PullTarget t : parsed) {
                out.println(t.catalogId().map(id -> "'" + id + "' is installed in " + config.modelsDir()
                                + ": `easel serve --models-dir " + config.modelsDir() + "` serves it")
                        .orElse(t.label() + " is in " + config.modelsDir().resolve(t.files().getFirst().target())));
            }
            return 0;
        } catch (PullException e) {
            for (String line : e.getMessage().split("\n")) err.println("easel pull: " + line);
            err.flush();
            return 1;
        }
    }
}
