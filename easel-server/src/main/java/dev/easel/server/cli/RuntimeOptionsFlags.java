package dev.easel.server.cli;

import dev.easel.engine.runtime.RuntimeOptions;
import dev.easel.engine.runtime.WeightMode;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;

/**
 * The runtime flags {@code easel generate} and {@code easel bench} share (a picocli mixin), as {@link RuntimeOptions};
 * bad values name their flag. A flag left out leaves the model family's choice standing.
 */
final class RuntimeOptionsFlags {
    @Option(names = "--threads", description = "Compute threads (default: all cores).")
    Integer threads;

    @Option(names = "--weights", description = "How the big linear layers hold their weights: fp32, int8 or int4 "
            + "(quantized at load in blocks of 32), w8a8 (int8 per output channel, activations int8 per row: the fastest on "
            + "CPUs with VNNI, less exact than int8; refused on x86 without VNNI or AMX). Default: the model's (fp32 where it fits; "
            + "FLUX.1 w8a8 when fp32 does not fit, int8 on CPUs without VNNI or AMX; a FLUX.1 GGUF: as FLUX.1 for 8-bit blocks, "
            + "int4 for 4-bit ones).")
    String weights;

    @Option(names = "--accuracy-level", description = "int8 and int4 layers' compute: 4 = int8 activations on integer kernels "
            + "(default), 0 = fp32 (w8a8 layers always compute in int8; FLUX.1's T5 runs int8 then, and takes this).")
    Integer accuracyLevel;

    /** The threads asked for, else all cores. */
    int threadsOrAll() {
        return threads != null ? threads : Runtime.getRuntime().availableProcessors();
    }

    RuntimeOptions options(CommandSpec spec, boolean noPrepack) {
        RuntimeOptions options = RuntimeOptions.defaults();
        if (threads != null) {
            if (threads < 1) throw new ParameterException(spec.commandLine(), "--threads must be at least 1, got " + threads);
            options = options.withThreads(threads);
        }
        if (weights != null) {
            try {
                options = options.withWeights(WeightMode.parse(weights));
            } catch (IllegalArgumentException e) {
                throw new ParameterException(spec.commandLine(), "--weights: " + e.getMessage());
            }
        }
        if (accuracyLevel != null) {
            if (accuracyLevel != 0 && accuracyLevel != 4) {
                throw new ParameterException(spec.commandLine(), "--accuracy-level: 0 (fp32 compute) or 4 (int8 compute), got " + accuracyLevel);
            }
            options = options.withAccuracyLevel(accuracyLevel);
        }
        if (noPrepack) {
            if (options.weightMode().quantized()) {
                throw new ParameterException(spec.commandLine(), "--no-prepack: " + options.weightMode()
                        + " weights need prepacking (without it every quantized layer is unpacked again on each call)");
            }
            options = options.withPrepack(false);
        }
        return options;
    }
}
