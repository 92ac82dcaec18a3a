package dev.easel.server.support;

import java.nio.file.Files;
import java.nio.file.Path;

/** The reference fixtures (system property {@code easel.fixtures}); the SD 1.5 tiny model lives there. */
public final class Fixtures {
    private Fixtures() {
    }

    /**
     * The fixtures directory, resolved as easel-diffusion's {@code FixtureCase.root()}
     * and easel-engine's {@code Fixtures.dir()}.
     */
    public static Path root() {
        String property = System.getProperty("easel.fixtures");
        if (property == null) {
            throw new IllegalStateException("system property easel.fixtures is not set (surefire sets it from the root pom)");
        }
        Path dir = Path.of(property).toAbsolutePath().normalize();
        if (!Files.isDirectory(dir)) throw new IllegalStateException("fixtures directory " + dir + " does not exist");
        return dir;
    }

    /** The tiny SD 1.5 model as a diffusers folder: real architecture, random weights. */
    public static Path sd15Diffusers() {
        Path p = root().resolve("sd15/diffusers");
        if (!Files.isRegularFile(p.resolve("model_index.json"))) {
            throw new IllegalStateException("the SD 1.5 fixture model is missing: " + p + " (set -Deasel.fixtures)");
        }
        return p;
    }

    /** The tiny SDXL model as a single file (SGM layout, both text encoders inside). */
    public static Path sdxlSingleFile() {
        return root().resolve("sdxl/single_file/sdxl_tiny.safetensors");
    }

    public static Path sd15SingleFile() {
        return root().resolve("sd15/single_file/sd15_tiny.safetensors");
    }
}
