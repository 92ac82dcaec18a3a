package dev.easel.engine.runtime;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * The CPU as far as an optimized model depends on it: ONNX Runtime's layout optimisations (NCHWc blocks) and
 * prepacked GEMM weights follow the vector extensions, so a cache shared by machines of different CPUs must key
 * them apart. Linux: the model name and the feature flags; elsewhere the architecture only.
 */
final class CpuIdentity {
    private static final String IDENTITY = read();

    private CpuIdentity() {
    }

    static String get() {
        return IDENTITY;
    }

    private static String read() {
        String arch = System.getProperty("os.arch");
        try {
            List<String> lines = Files.readAllLines(Path.of("/proc/cpuinfo"));
            String model = field(lines, "model name");
            String flags = field(lines, "flags");
            return arch + " " + model + " flags " + Checksums.sha256Hex(flags).substring(0, 16);
        } catch (IOException | RuntimeException e) {
            return arch + " " + System.getProperty("os.name");
        }
    }

    private static String field(List<String> lines, String name) {
        for (String line : lines) {
            int colon = line.indexOf(':');
            if (colon > 0 && line.substring(0, colon).trim().equals(name)) return line.substring(colon + 1).trim();
        }
        return "";
    }
}
