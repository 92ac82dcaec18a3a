package dev.easel.server.cli;

import dev.easel.diffusion.bench.PipelineBench;
import dev.easel.engine.runtime.RuntimeOptions;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

import java.nio.file.Path;
import java.util.concurrent.Callable;

/** {@code easel bench}: speed and memory of a real-size model on this machine. */
@Command(name = "bench", mixinStandardHelpOptions = true,
        description = "Benchmark a real-size model with random weights (written once to the cache folder).")
public final class BenchCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Option(names = "--model", defaultValue = "sd15", description = "Model family to benchmark: sd15.")
    String model;

    @Option(names = "--cache", defaultValue = "bench-cache", description = "Where the random-weight checkpoints are kept.")
    Path cache;

    @Option(names = "--size", defaultValue = "512", description = "Square image size in pixels.")
    int size;

    @Option(names = "--steps", defaultValue = "3", description = "Denoising steps to time.")
    int steps;

    @Option(names = "--threads", description = "Compute threads (default: all cores).")
    Integer threads;

    @Option(names = "--no-prepack", description = "Keep ONNX Runtime from repacking weights (less memory).")
    boolean noPrepack;

    @Override
    public Integer call() {
        RuntimeOptions options = RuntimeOptions.defaults().withPrepack(!noPrepack);
        if (threads != null) options = options.withThreads(threads);
        if (!model.equals("sd15")) throw new ParameterException(spec.commandLine(), "--model: only sd15 can be benchmarked in this build");
        PipelineBench.runStableDiffusion15(new PipelineBench.Settings(cache, size, size, steps, options), spec.commandLine().getOut());
        return 0;
    }
}
