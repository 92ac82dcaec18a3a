package dev.easel.engine.runtime;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Set;
import java.util.regex.Pattern;

/** What this machine's CPU can do that changes which weight modes are sound on it. */
public final class CpuFeatures {
    private static final Set<String> X86_DOT_PRODUCT = Set.of("avx512_vnni", "avx_vnni", "amx_int8");
    private static final boolean INTEGER_DOT_PRODUCT = detect();

    private CpuFeatures() {
    }

    /**
     * Whether ONNX Runtime's uint8 x int8 GEMM sums exactly in int32 here. On x86 that needs VNNI or AMX: without them
     * its kernels add each pair of products in 16 bits first, which saturates for full-range int8 activations (255 x 127
     * x 2 > 32767). ARM's kernels widen before they add, so they are exact with or without the dot-product instructions.
     */
    public static boolean integerDotProduct() {
        return INTEGER_DOT_PRODUCT;
    }

    private static boolean detect() {
        String arch = System.getProperty("os.arch", "").toLowerCase(Locale.ROOT);
        if (arch.equals("aarch64") || arch.equals("arm64")) return true;
        try {
            String info = Files.readString(Path.of("/proc/cpuinfo"), StandardCharsets.ISO_8859_1);
            return Pattern.compile("\\s+").splitAsStream(info).anyMatch(X86_DOT_PRODUCT::contains);
        } catch (IOException | RuntimeException e) {
            return false; // cannot tell: take the safe answer
        }
    }
}
