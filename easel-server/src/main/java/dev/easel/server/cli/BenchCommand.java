package dev.easel.server.cli;

import dev.easel.diffusion.bench.PipelineBench;
import dev.easel.engine.runtime.RuntimeOptions;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import java.util.concurrent.Callable;

/** {@code easel bench}: speed and memory of a real-size model on this machine. */
@Command(name = "bench", mixinStandardHelpOptions = true,
        description = "Benchmark a real-size model with random weights (written once to the cache folder).")
public final class BenchCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Option(names = "--model", defaultValue = "sd15", description = "Model family to benchmark: sd15, sdxl, flux.")
    String model;

    @Option(names = "--checkpoint", description = "sdxl, flux: benchmark this checkpoint (SDXL: single file or diffusers "
            + "folder; FLUX.1: the transformer file, safetensors or GGUF, its components beside it) instead of the "
            + "random-weight real-size one.")
    Path checkpoint;

    @Option(names = "--cache", defaultValue = "bench-cache", description = "Where the random-weight checkpoints are kept.")
    Path cache;

    @Option(names = "--gguf", description = "flux only: write (once) the random-weight transformer as a GGUF file of this "
            + "type (Q8_0, Q4_0; city96's layout) beside the bf16 one, and benchmark that.")
    String gguf;

    @Option(names = "--size", description = "Square image size in pixels (default: 512 for sd15, 1024 for sdxl and flux).")
    Integer size;

    @Option(names = "--steps", description = "Denoising steps to time (default: 3 for sd15, 4 for sdxl).")
    Integer steps;

    @Mixin
    RuntimeOptionsFlags runtime = new RuntimeOptionsFlags();

    @Option(names = "--component", description = "flux only: load this one component alone (transformer, t5, clip, vae) and "
            + "report its memory after loading and over one run at --size (where a model's memory goes).")
    String component;

    @Option(names = "--activation-arena", negatable = true, description = "Keep each run's activation memory in ONNX Runtime's "
            + "arena (--activation-arena) or free it after the run (--no-activation-arena); default: the family's choice "
            + "(freed for quantized FLUX.1 and SDXL).")
    Boolean activationArena;

    @Option(names = "--no-prepack", description = "Keep ONNX Runtime from repacking weights (less memory).")
    boolean noPrepack;

    @Option(names = "--load", description = "Time loading instead: each load in a new process, without the prepared-model "
            + "cache, with an empty one (the first load) and from it, as ratios to the uncached load.")
    boolean load;

    @Option(names = "--cache-dir", description = "Load through the prepared-model cache in this folder; with --load, the "
            + "folder of the cache it times (emptied before and after; default: prepared-models in the --cache folder).")
    Path cacheDir;

    @Override
    public Integer call() {
        if (load) {
            Path loaded = switch (model) {
                case "sd15" -> dev.easel.diffusion.bench.RandomCheckpoint.stableDiffusion15(cache);
                case "sdxl" -> checkpoint != null ? checkpoint : dev.easel.diffusion.bench.RandomCheckpoint.stableDiffusionXL(cache);
                default -> throw new ParameterException(spec.commandLine(), "--model: sd15 or sdxl, got " + model);
            };
            dev.easel.diffusion.bench.LoadBench.run(loaded, cacheDir != null ? cacheDir : cache.resolve("prepared-models"),
                    noPrepack ? "off" : "default", runtime.threadsOrAll(),
                    spec.commandLine().getOut());
            return 0;
        }
        RuntimeOptions options = runtime.options(spec, noPrepack);
        if (activationArena != null) options = options.withActivationArena(activationArena);
        if (cacheDir != null) options = options.withCache(dev.easel.engine.runtime.PreparedModelCache.open(cacheDir, 0));
        switch (model) {
            case "sd15" -> {
                if (checkpoint != null) throw new ParameterException(spec.commandLine(), "--checkpoint: only with --model sdxl");
                int side = size != null ? size : 512;
                PipelineBench.runStableDiffusion15(new PipelineBench.Settings(cache, side, side, steps != null ? steps : 3, options),
                        spec.commandLine().getOut());
            }
            case "sdxl" -> {
                if (checkpoint != null && !Files.exists(checkpoint)) {
                    throw new ParameterException(spec.commandLine(), "--checkpoint: no such file or folder: " + checkpoint);
                }
                int side = size != null ? size : 1024;
                PipelineBench.runStableDiffusionXL(new PipelineBench.Settings(cache, side, side, steps != null ? steps : 4, options),
                        Optional.ofNullable(checkpoint), spec.commandLine().getOut());
            }
            case "flux" -> {
                if (checkpoint != null && !Files.exists(checkpoint)) {
                    throw new ParameterException(spec.commandLine(), "--checkpoint: no such file: " + checkpoint);
                }
                Optional<Path> given = Optional.ofNullable(checkpoint);
                if (gguf != null) {
                    if (checkpoint != null) throw new ParameterException(spec.commandLine(), "--gguf: not with --checkpoint");
                    dev.easel.engine.weights.gguf.GgufType type = java.util.Arrays.stream(dev.easel.engine.weights.gguf.GgufType.values())
                            .filter(t -> t.name().equalsIgnoreCase(gguf) && (t.name().equals("Q8_0") || t.name().equals("Q4_0")))
                            .findFirst().orElseThrow(() -> new ParameterException(spec.commandLine(), "--gguf: Q8_0 or Q4_0, got " + gguf));
                    long start = System.nanoTime();
                    given = Optional.of(dev.easel.diffusion.bench.RandomFlux.transformerGguf(dev.easel.diffusion.bench.RandomFlux.schnell(cache),
                            dev.easel.diffusion.bench.RandomFlux.Shapes.schnell(), type));
                    spec.commandLine().getOut().printf("GGUF %s transformer: %s (%.1f s)%n", type, given.get(), (System.nanoTime() - start) / 1e9);
                }
                int side = size != null ? size : 1024;
                if (component != null) {
                    dev.easel.diffusion.bench.FluxComponentBench.run(given.orElseGet(() -> dev.easel.diffusion.bench.RandomFlux.schnell(cache)),
                            component, side, options, spec.commandLine().getOut());
                    return 0;
                }
                dev.easel.diffusion.bench.FluxBench.run(new PipelineBench.Settings(cache, side, side, steps != null ? steps : 4, options),
                        given, spec.commandLine().getOut());
            }
            default -> throw new ParameterException(spec.commandLine(), "--model: sd15, sdxl or flux, got " + model);
        }
        if (options.cache() != null) options.cache().awaitWrites();
        return 0;
    }
}
