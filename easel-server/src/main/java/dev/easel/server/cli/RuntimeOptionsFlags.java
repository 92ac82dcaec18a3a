package dev.easel.server.cli;

import dev.easel.engine.runtime.RuntimeOptions;
import dev.easel.engine.runtime.WeightMode;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.ParameterException;

/** The runtime flags {@code easel generate} and {@code easel bench} share, as {@link RuntimeOptions}; bad values name their flag. */
final class RuntimeOptionsFlags {
    private RuntimeOptionsFlags() {
    }

    /** Each argument may be null (or false): the model family's choice then stands. */
    static RuntimeOptions options(CommandSpec spec, Integer threads, boolean noPrepack, String weights, Integer accuracyLevel) {
        RuntimeOptions options = RuntimeOptions.defaults();
        if (threads != null) options = options.withThreads(threads);
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
                        + " weights need prepacking (without it every quantized layer is dequantized to fp32 on each call)");
            }
            options = options.withPrepack(false);
        }
        return options;
    }
}
