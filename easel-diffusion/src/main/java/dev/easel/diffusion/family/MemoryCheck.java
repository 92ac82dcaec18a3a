package dev.easel.diffusion.family;

import dev.easel.engine.weights.WeightSource;
import dev.easel.engine.weights.WeightsException;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.OptionalLong;

/**
 * Refuses, before anything is converted, a model whose fp32 weights alone exceed the memory this machine has
 * available: loading it would end with the process killed by the system instead of a message. A full-size FLUX.1
 * needs about 48 GB for its transformer and 19 GB for T5-XXL in fp32. Memory for activations comes on top, so
 * passing this check does not promise a run; failing it promises a failure.
 */
final class MemoryCheck {
    private static final Path MEMINFO = Path.of("/proc/meminfo");

    private MemoryCheck() {
    }

    /** Bytes a component's weights take once converted to fp32. */
    static long fp32Bytes(WeightSource weights) {
        long bytes = 0;
        for (String name : weights.names()) bytes += weights.info(name).elementCount() * Float.BYTES;
        return bytes;
    }

    /** @throws WeightsException naming the model, what it needs and what is available, when it cannot fit */
    static void requireFits(String model, long fp32Bytes) {
        OptionalLong available = availableBytes();
        if (available.isPresent() && fp32Bytes > available.getAsLong()) {
            throw new WeightsException(String.format(Locale.ROOT,
                    "%s needs %.1f GiB of memory for its weights in fp32, but this machine has %.1f GiB available; "
                            + "it cannot be loaded here (free memory, or use a machine with more)",
                    model, gib(fp32Bytes), gib(available.getAsLong())));
        }
    }

    /** MemAvailable of Linux's /proc/meminfo; empty where the system does not say. */
    static OptionalLong availableBytes() {
        if (!Files.isReadable(MEMINFO)) return OptionalLong.empty();
        try {
            for (String line : Files.readAllLines(MEMINFO)) {
                if (line.startsWith("MemAvailable:")) {
                    String[] parts = line.trim().split("\\s+");
                    return OptionalLong.of(Long.parseLong(parts[1]) * 1024);
                }
            }
        } catch (IOException | RuntimeException unreadable) {
            // no figure: no check
        }
        return OptionalLong.empty();
    }

    private static double gib(long bytes) {
        return bytes / (1024.0 * 1024 * 1024);
    }
}
