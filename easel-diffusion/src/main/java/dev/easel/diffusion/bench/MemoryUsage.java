package dev.easel.diffusion.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** This process's resident memory, from /proc (Linux). */
public final class MemoryUsage {
    private MemoryUsage() {
    }

    /** Peak resident set size so far, in bytes (VmHWM), or -1 where /proc is missing. */
    public static long peakRssBytes() {
        return statusField("VmHWM:");
    }

    public static long rssBytes() {
        return statusField("VmRSS:");
    }

    private static long statusField(String field) {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith(field)) return Long.parseLong(line.replaceAll("\\D+", "")) * 1024;
            }
        } catch (IOException | NumberFormatException e) {
            return -1;
        }
        return -1;
    }
}
