package dev.easel.diffusion.scheduler;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.easel.engine.io.Npy;
import dev.easel.engine.tensor.FloatTensor;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.fail;

/** One recorded reference run under the fixtures directory (system property {@code easel.fixtures}). */
record FixtureCase(String name, Path dir, JsonNode manifest) {
    private static final ObjectMapper JSON = new ObjectMapper();

    static Path root() {
        String root = System.getProperty("easel.fixtures");
        if (root == null) fail("system property easel.fixtures is not set");
        Path dir = Path.of(root);
        if (!Files.isDirectory(dir)) fail("fixtures directory " + dir + " does not exist");
        return dir;
    }

    /** Every case directory whose manifest records a scheduler, found by listing the tree. */
    static List<FixtureCase> withScheduler() {
        Path root = root();
        List<FixtureCase> out = new ArrayList<>();
        try (Stream<Path> files = Files.walk(root, 3)) {
            for (Path manifest : files.filter(p -> p.getFileName().toString().equals("manifest.json")).sorted().toList()) {
                JsonNode m = JSON.readTree(manifest.toFile());
                if (m.path("scheduler").isObject()) {
                    out.add(new FixtureCase(root.relativize(manifest.getParent()).toString(), manifest.getParent(), m));
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out;
    }

    static JsonNode readJson(Path file) {
        try {
            return JSON.readTree(file.toFile());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    JsonNode scheduler() {
        return manifest.path("scheduler");
    }

    JsonNode params() {
        return manifest.path("params");
    }

    String kind() {
        return manifest.path("kind").asText();
    }

    float strength() {
        return (float) params().path("strength").asDouble(1.0);
    }

    boolean has(String array) {
        return Files.exists(dir.resolve(array + ".npy"));
    }

    FloatTensor npy(String array) {
        Path file = dir.resolve(array + ".npy");
        if (!Files.exists(file)) fail(name + ": missing " + file.getFileName());
        return Npy.readFloat(file);
    }

    /** The recorded random draws whose {@code drawn_in} contains {@code where}, in draw order. */
    List<FloatTensor> draws(String where) {
        List<FloatTensor> out = new ArrayList<>();
        for (JsonNode d : manifest.path("random_draws")) {
            if (d.path("drawn_in").asText().contains(where)) out.add(Npy.readFloat(dir.resolve(d.path("file").asText())));
        }
        return out;
    }

    /** The VAE config of the case's diffusers folder (scaling and shift factors). */
    JsonNode vaeConfig() {
        return readJson(dir.resolve(manifest.path("weights").path("diffusers_dir").asText()).resolve("vae/config.json"));
    }
}
