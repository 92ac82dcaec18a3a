package dev.easel.diffusion.noise;

import dev.easel.diffusion.fixtures.FixtureCase;
import dev.easel.diffusion.fixtures.FixtureCase.Draw;
import dev.easel.engine.tensor.FloatTensor;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

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

    /** A case with random draws: its seed (from the manifest's seed convention) and its draws in index order. */
    record Case(FixtureCase fixture, long seed, List<Draw> draws) {
        String name() {
            return fixture.toString();
        }
    }

    /** All cases whose manifest lists random draws, found by walking the fixtures tree. */
    static List<Case> cases() {
        List<Case> out = new ArrayList<>();
        for (FixtureCase c : FixtureCase.all()) {
            List<Draw> draws = new ArrayList<>(c.draws());
            if (draws.isEmpty()) continue;
            Matcher seed = SEED.matcher(c.manifest().path("seed_convention").asText());
            if (!seed.find()) fail(c.dir().resolve("manifest.json") + ": no seed in seed_convention");
            draws.sort(Comparator.comparingInt(Draw::index));
            out.add(new Case(c, Long.parseLong(seed.group(1)), draws));
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
                FloatTensor expected = d.tensor();
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
            FloatTensor expected = first.tensor();
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
