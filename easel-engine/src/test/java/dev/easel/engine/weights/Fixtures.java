package dev.easel.engine.weights;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

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

    /** The first checkpoint of a family's {@code single_file/} folder, or the test is skipped where there is none. */
    static Path singleFile(String family) {
        Optional<Path> file = firstSafetensors(dir().resolve(family).resolve("single_file"));
        assumeTrue(file.isPresent(), "no " + family + " single file in " + dir());
        return file.get();
    }

    /**
     * The weights file of one component of a family's diffusers folder (one with a model_index.json), or the test is
     * skipped where the fixtures hold no such folder.
     */
    static Path diffusersComponentFile(String family, String component) {
        Path folder = dir().resolve(family).resolve("diffusers");
        assumeTrue(Files.isRegularFile(folder.resolve("model_index.json")), "no " + family + " diffusers folder in " + dir());
        return firstSafetensors(folder.resolve(component))
                .orElseThrow(() -> new IllegalStateException("no weights in " + folder.resolve(component)));
    }

    private static Optional<Path> firstSafetensors(Path dir) {
        if (!Files.isDirectory(dir)) return Optional.empty();
        try (Stream<Path> files = Files.list(dir)) {
            return files.filter(p -> p.toString().endsWith(".safetensors")).sorted().findFirst();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
