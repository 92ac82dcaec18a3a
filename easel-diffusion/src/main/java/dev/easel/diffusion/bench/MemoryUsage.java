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

    /**
     * Resets the peak resident set size to the current one (Linux 4.0+: writing 5 to /proc/self/clear_refs), so
     * that the next {@link #peakRssBytes} measures what came after. False where that is not possible.
     */
    public static boolean resetPeak() {
        try {
            Files.writeString(Path.of("/proc/self/clear_refs"), "5");
            return true;
        } catch (IOException | RuntimeException e) {
            return false;
        }
    }

    /**
     * Resident anonymous memory (RssAnon: heap, ONNX Runtime's buffers), without the pages of mapped files, which
     * the kernel can drop and re-read at will; -1 where /proc is missing.
     */
    public static long anonymousRssBytes() {
        return statusField("RssAnon:");
    }

    public static long rssBytes() {
        return statusField("VmRSS:");
    }

    /** A field of /proc/self/status in bytes ("RssFile:", ...); -1 where /proc is missing. */
    static long statusField(String field) {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith(field)) return Long.parseLong(line.replaceAll("\\D+", "")) * 1024;
            }
        } catch (IOException | NumberFormatException e) {
            return -1;
        }
        return -1;
    }

    static double gib(long bytes) {
        return bytes / (1024.0 * 1024 * 1024);
    }
}
