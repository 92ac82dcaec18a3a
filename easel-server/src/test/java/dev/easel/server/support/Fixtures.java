package dev.easel.server.support;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The reference fixtures (system property {@code easel.fixtures}), read as data: which cases a family has and
 * which checkpoint layouts are present, from the cases' manifests. Nothing about a case (size, file name) is known
 * in advance; what a directory lacks skips the test that needs it, saying so.
 */
public final class Fixtures {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String MANIFEST = "manifest.json";

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

    /** One recorded reference run: {@code <family>/<name>/manifest.json} and its files. */
    public record Case(String family, String name, Path dir, JsonNode manifest) {
        public JsonNode params() {
            return manifest.path("params");
        }

        /** The case's diffusers folder, where it is present (a folder with a model_index.json). */
        public Optional<Path> diffusersFolder() {
            JsonNode dir = manifest.path("weights").path("diffusers_dir");
            if (!dir.isTextual()) return Optional.empty();
            Path folder = this.dir.resolve(dir.asText()).normalize();
            return Files.isRegularFile(folder.resolve("model_index.json")) ? Optional.of(folder) : Optional.empty();
        }

        /**
         * The case's whole-model single file where present: {@code weights.single_file}, or its {@code transformer}
         * where the manifest names the parts (text encoders and VAE as separate files).
         */
        public Optional<Path> singleFile() {
            JsonNode file = manifest.path("weights").path("single_file");
            if (file.isObject()) file = file.path("transformer");
            if (!file.isTextual()) return Optional.empty();
            Path path = dir.resolve(file.asText()).normalize();
            return Files.isRegularFile(path) ? Optional.of(path) : Optional.empty();
        }

        /** The checkpoints of the case that are present: the diffusers folder, then the single file. */
        public List<Path> models() {
            List<Path> out = new ArrayList<>();
            diffusersFolder().ifPresent(out::add);
            singleFile().ifPresent(out::add);
            return out;
        }

        public Optional<Path> file(String name) {
            Path file = dir.resolve(name);
            return Files.isRegularFile(file) ? Optional.of(file) : Optional.empty();
        }

        @Override
        public String toString() {
            return family + "/" + name;
        }
    }

    /** Every case of a family, in the order of their directories; none where the family has no directory. */
    public static List<Case> cases(String family) {
        Path familyDir = root().resolve(family);
        if (!Files.isDirectory(familyDir)) return List.of();
        try (Stream<Path> dirs = Files.list(familyDir)) {
            List<Case> cases = new ArrayList<>();
            for (Path dir : dirs.sorted().toList()) {
                if (Files.isRegularFile(dir.resolve(MANIFEST))) {
                    cases.add(new Case(family, dir.getFileName().toString(), dir, JSON.readTree(dir.resolve(MANIFEST).toFile())));
                }
            }
            return cases;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** A family's diffusers folder ({@code <family>/diffusers} with a model_index.json), if the fixtures hold one. */
    public static Optional<Path> diffusersFolder(String family) {
        Path folder = root().resolve(family).resolve("diffusers");
        return Files.isRegularFile(folder.resolve("model_index.json")) ? Optional.of(folder) : Optional.empty();
    }

    /** A family's whole-model single files, as its cases' manifests name them, each once. */
    public static List<Path> singleFiles(String family) {
        Set<Path> files = new LinkedHashSet<>();
        for (Case c : cases(family)) c.singleFile().ifPresent(files::add);
        return List.copyOf(files);
    }

    /** A family's first single file, or the test is skipped saying that the fixtures hold none. */
    public static Path singleFile(String family) {
        List<Path> files = singleFiles(family);
        assumeTrue(!files.isEmpty(), "no " + family + " single file in " + root());
        return files.getFirst();
    }

    /** A family's model in whichever layout the fixtures hold (the diffusers folder first), or the test is skipped. */
    public static Path model(String family) {
        Optional<Path> folder = diffusersFolder(family);
        if (folder.isPresent()) return folder.get();
        List<Path> files = singleFiles(family);
        assumeTrue(!files.isEmpty(), "no " + family + " model (diffusers folder or single file) in " + root());
        return files.getFirst();
    }

    /** A file of the first case of any of the families that has it (e.g. {@code source.png}), or the test is skipped. */
    public static Path caseFile(String name, String... families) {
        for (String family : families) {
            for (Case c : cases(family)) {
                Optional<Path> file = c.file(name);
                if (file.isPresent()) return file.get();
            }
        }
        assumeTrue(false, "no case of " + String.join(", ", families) + " with a " + name + " in " + root());
        throw new AssertionError("unreachable");
    }

    /** The tiny SD 1.5 model, as a diffusers folder where the fixtures hold one, else as a single file. */
    public static Path sd15Model() {
        return model("sd15");
    }

    /** The tiny SD 1.5 model as a diffusers folder, or the test is skipped where the fixtures hold none. */
    public static Path sd15Diffusers() {
        Optional<Path> folder = diffusersFolder("sd15");
        assumeTrue(folder.isPresent(), "no sd15 diffusers folder in " + root());
        return folder.get();
    }

    /** The tiny SDXL model as a single file (SGM layout, both text encoders inside). */
    public static Path sdxlSingleFile() {
        return singleFile("sdxl");
    }

    public static Path sd15SingleFile() {
        return singleFile("sd15");
    }
}
