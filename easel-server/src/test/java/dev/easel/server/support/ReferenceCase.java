package dev.easel.server.support;

import com.fasterxml.jackson.databind.JsonNode;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * One recorded run of the fixtures ({@link Fixtures.Case}) as the user-facing tests need it: the request it was made
 * with (prompt, size, steps, guidance, seed, source image) and the weights it ran on, all read from its manifest.
 */
public record ReferenceCase(Fixtures.Case fixture) {
    private static final Pattern SEED = Pattern.compile("seeded with (\\d+)");

    /** The cases of {@code family} under the fixtures root, in name order; empty when there are none. */
    public static List<ReferenceCase> of(String family) {
        return Fixtures.cases(family).stream().map(ReferenceCase::new).toList();
    }

    public String family() {
        return fixture.family();
    }

    public Path dir() {
        return fixture.dir();
    }

    public JsonNode manifest() {
        return fixture.manifest();
    }

    public String name() {
        return fixture.toString();
    }

    public JsonNode params() {
        return manifest().get("params");
    }

    public String prompt() {
        return params().get("prompt").asText();
    }

    public Optional<String> negativePrompt() {
        return params().hasNonNull("negative_prompt") ? Optional.of(params().get("negative_prompt").asText()) : Optional.empty();
    }

    public int width() {
        return params().get("width").asInt();
    }

    public int height() {
        return params().get("height").asInt();
    }

    public String size() {
        return width() + "x" + height();
    }

    public int steps() {
        return params().get("steps").asInt();
    }

    public double guidance() {
        return params().get("guidance").asDouble();
    }

    /** The torch seed the reference noise was drawn with (Easel draws the same noise from it). */
    public long seed() {
        Matcher m = SEED.matcher(manifest().get("seed_convention").asText());
        assertThat(m.find()).as("a seed in " + manifest().get("seed_convention")).isTrue();
        return Long.parseLong(m.group(1));
    }

    public String kind() {
        return manifest().path("kind").asText();
    }

    /** The img2img / inpaint source image, when the case has one. */
    public Optional<Path> source() {
        Path p = dir().resolve("source.png");
        return Files.isRegularFile(p) ? Optional.of(p) : Optional.empty();
    }

    public Optional<Path> mask() {
        Path p = dir().resolve("mask.png");
        return Files.isRegularFile(p) ? Optional.of(p) : Optional.empty();
    }

    /** Strength of an edit (1 when the manifest gives none). */
    public double strength() {
        return params().path("strength").asDouble(1.0);
    }

    /** The reference 8-bit image. */
    public Path image() {
        return dir().resolve("image.png");
    }

    /**
     * One of the separate files the case ran on, when it names them (FLUX.1: {@code transformer}, {@code ae},
     * {@code clip_l}, {@code t5}).
     */
    public Optional<Path> singleFile(String component) {
        JsonNode s = manifest().path("weights").path("single_file").path(component);
        return s.isTextual() ? Optional.of(dir().resolve(s.asText()).normalize()) : Optional.empty();
    }

    @Override
    public String toString() {
        return name();
    }

    // ---------------------------------------------------------------- comparing images

    public static BufferedImage read(Path png) {
        try {
            BufferedImage image = ImageIO.read(png.toFile());
            assertThat(image).as("an image in " + png).isNotNull();
            return image;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public static BufferedImage read(byte[] png) {
        try {
            BufferedImage image = ImageIO.read(new ByteArrayInputStream(png));
            assertThat(image).as("an image in " + png.length + " bytes").isNotNull();
            return image;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The largest difference of one 8-bit RGB channel between two images of the same size. */
    public static int maxChannelDifference(BufferedImage a, BufferedImage b) {
        assertThat(a.getWidth()).as("width").isEqualTo(b.getWidth());
        assertThat(a.getHeight()).as("height").isEqualTo(b.getHeight());
        int worst = 0;
        for (int y = 0; y < a.getHeight(); y++) {
            for (int x = 0; x < a.getWidth(); x++) {
                int p = a.getRGB(x, y);
                int q = b.getRGB(x, y);
                for (int shift = 0; shift <= 16; shift += 8) {
                    worst = Math.max(worst, Math.abs(((p >> shift) & 0xff) - ((q >> shift) & 0xff)));
                }
            }
        }
        return worst;
    }

    /** Fails unless {@code ours} is this case's reference image within 1 level per channel. */
    public void assertReproducedBy(BufferedImage ours, String how) {
        BufferedImage reference = read(image());
        assertThat(maxChannelDifference(ours, reference)).as(name() + " " + how + " vs image.png, 8-bit levels")
                .isLessThanOrEqualTo(1);
    }
}
