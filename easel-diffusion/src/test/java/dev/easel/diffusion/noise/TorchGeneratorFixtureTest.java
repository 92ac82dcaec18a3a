package dev.easel.diffusion.noise;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.easel.engine.io.Npy;
import dev.easel.engine.tensor.FloatTensor;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

/**
 * Every recorded case under the fixtures directory: the random_NN.npy arrays are successive
 * {@code torch.randn(shape, generator=g)} calls on one CPU generator seeded as the manifest says; a
 * {@link TorchGenerator} with that seed must reproduce each of them, in order, bit for bit.
 */
class TorchGeneratorFixtureTest {
    private static final Pattern SEED = Pattern.compile("seeded with (-?\\d+)");
    private static final ObjectMapper JSON = new ObjectMapper();

    record Draw(int index, String file, long[] shape) {
    }

    record Case(String name, Path dir, long seed, List<Draw> draws) {
    }

    static Path fixtures() {
        String root = System.getProperty("easel.fixtures");
        if (root == null) fail("system property easel.fixtures is not set");
        Path dir = Path.of(root);
        if (!Files.isDirectory(dir)) fail("fixtures directory " + dir + " does not exist");
        return dir;
    }

    /** All case directories (a manifest.json with random draws), found by listing the fixtures tree. */
    static List<Case> cases() {
        Path root = fixtures();
        List<Case> out = new ArrayList<>();
        try (Stream<Path> files = Files.walk(root, 3)) {
            for (Path manifest : files.filter(p -> p.getFileName().toString().equals("manifest.json"))
                    .sorted().toList()) {
                JsonNode m = JSON.readTree(manifest.toFile());
                JsonNode draws = m.path("random_draws");
                if (!draws.isArray() || draws.isEmpty()) continue;
                Matcher seed = SEED.matcher(m.path("seed_convention").asText());
                if (!seed.find()) fail(manifest + ": no seed in seed_convention");
                List<Draw> list = new ArrayList<>();
                for (JsonNode d : draws) {
                    long[] shape = new long[d.path("shape").size()];
                    for (int i = 0; i < shape.length; i++) shape[i] = d.path("shape").get(i).asLong();
                    list.add(new Draw(d.path("index").asInt(), d.path("file").asText(), shape));
                }
                list.sort(Comparator.comparingInt(Draw::index));
                Path dir = manifest.getParent();
                out.add(new Case(root.relativize(dir).toString(), dir, Long.parseLong(seed.group(1)), list));
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out;
    }

    @Test
    void fixturesHaveCasesWithDraws() {
        List<Case> cases = cases();
        assertThat(cases).isNotEmpty();
        for (Case c : cases) {
            for (int i = 0; i < c.draws().size(); i++) {
                assertThat(c.draws().get(i).index()).as("%s draw indices", c.name()).isEqualTo(i);
            }
        }
    }

    @TestFactory
    Stream<DynamicTest> everyDrawOfEveryCaseIsBitExact() {
        return cases().stream().map(c -> DynamicTest.dynamicTest(c.name() + " (seed " + c.seed() + ")", () -> {
            TorchGenerator generator = new TorchGenerator(c.seed());
            for (Draw d : c.draws()) {
                FloatTensor expected = Npy.read(c.dir().resolve(d.file())).toFloatTensor();
                assertThat(expected.shape()).as("%s %s shape in manifest", c.name(), d.file()).isEqualTo(d.shape());
                FloatTensor actual = generator.next(d.shape());
                assertThat(actual.shape()).isEqualTo(d.shape());
                assertBitEqual(c.name() + "/" + d.file(), expected.data(), actual.data());
            }
        }));
    }

    /** A batch of one image per seed reproduces each case's first draw in its slice. */
    @TestFactory
    Stream<DynamicTest> perImageSeedsReproduceEachCaseFirstDraw() {
        List<Case> cases = cases().stream().filter(c -> c.draws().getFirst().shape()[0] == 1).toList();
        return cases.stream().map(c -> DynamicTest.dynamicTest(c.name(), () -> {
            Draw first = c.draws().getFirst();
            FloatTensor expected = Npy.read(c.dir().resolve(first.file())).toFloatTensor();
            long[] batchShape = first.shape().clone();
            batchShape[0] = 3;
            FloatTensor batch = new PerImageSeeds(c.seed() + 1, c.seed(), c.seed() + 2).next(batchShape);
            assertBitEqual(c.name() + " slice 1", expected.data(), batch.slice(1).data());
            assertThat(batch.slice(0).data()).isNotEqualTo(expected.data());
        }));
    }

    static void assertBitEqual(String what, float[] expected, float[] actual) {
        assertThat(actual).as(what + " length").hasSize(expected.length);
        int mismatches = 0;
        int first = -1;
        for (int i = 0; i < expected.length; i++) {
            if (Float.floatToRawIntBits(expected[i]) != Float.floatToRawIntBits(actual[i])) {
                if (first < 0) first = i;
                mismatches++;
            }
        }
        if (mismatches > 0) {
            fail(what + ": " + mismatches + " of " + expected.length + " values differ; first at " + first
                    + ": expected " + expected[first] + " got " + actual[first]);
        }
    }
}
