package dev.easel.engine.weights;

import java.nio.file.Files;
import java.nio.file.Path;

/** The reference fixtures, found through the {@code easel.fixtures} system property that surefire sets. */
final class Fixtures {
    private Fixtures() {
    }

    static Path dir() {
        String property = System.getProperty("easel.fixtures");
        if (property == null) throw new IllegalStateException("system property easel.fixtures is not set");
        Path dir = Path.of(property);
        if (!Files.isDirectory(dir)) throw new IllegalStateException("easel.fixtures=" + dir + " is not a directory");
        return dir;
    }
}
