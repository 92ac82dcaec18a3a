package dev.easel.engine.runtime;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.OptionalLong;

/** The memory this machine has available now, as Linux's /proc/meminfo says it. */
public final class SystemMemory {
    private static final Path MEMINFO = Path.of("/proc/meminfo");

    private SystemMemory() {
    }

    /** MemAvailable; empty where the system does not say. */
    public static OptionalLong availableBytes() {
        if (!Files.isReadable(MEMINFO)) return OptionalLong.empty();
        try {
            for (String line : Files.readAllLines(MEMINFO)) {
                if (line.startsWith("MemAvailable:")) {
                    String[] parts = line.trim().split("\\s+");
                    return OptionalLong.of(Long.parseLong(parts[1]) * 1024);
                }
            }
        } catch (IOException | RuntimeException unreadable) {
            // no figure
        }
        return OptionalLong.empty();
    }
}
