package dev.easel.engine.weights;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The reference fixtures, found through the {@code easel.fixtures} system property that surefire sets; resolved as
 * easel-diffusion's {@code FixtureCase.root()} and easel-server's {@code Fixtures.root()} resolve it.
 */
final class Fixtures {
    private Fixtures() {
    }

    static Path dir() {
        String property = System.getProperty("easel.fixtures");
        if (property == null) {
            throw new IllegalStateException("system property easel.fixtures is not set (surefire sets it from the root pom)");
        }
        Path dir = Path.of(property).toAbsolutePath().normalize();
        if (!Files.isDirectory(dir)) throw new IllegalStateException("fixtures directory " + dir + " does not exist");
        return dir;
    }
}
