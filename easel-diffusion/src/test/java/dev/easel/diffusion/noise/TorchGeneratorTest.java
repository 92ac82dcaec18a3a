package dev.easel.diffusion.noise;

import dev.easel.engine.tensor.FloatTensor;
import org.junit.jupiter.api.Test;

import java.util.Arrays;

import static dev.easel.diffusion.noise.TorchGeneratorFixtureTest.assertBitEqual;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

class TorchGeneratorTest {

    // ---- engine -------------------------------------------------------------------------------------------

    @Test
    void mersenneTwisterKnownAnswers() {
        // std::mt19937 with its default seed 5489: the first output, and the 10000th (required by the C++ standard)
        Mt19937 mt = new Mt19937(5489);
        assertThat(mt.nextInt() & 0xffffffffL).isEqualTo(3499211612L);
        assertThat(mt.nextInt() & 0xffffffffL).isEqualTo(581869302L);
        for (int i = 2; i < 9999; i++) mt.nextInt();
        assertThat(mt.nextInt() & 0xffffffffL).isEqualTo(4123659995L);
    }

    @Test
    void nextLongIsTwoOutputsHighFirst() {
        Mt19937 a = new Mt19937(7);
        Mt19937 b = new Mt19937(7);
        long hi = b.nextInt() & 0xffffffffL;
        long lo = b.nextInt() & 0xffffffffL;
        assertThat(a.nextLong()).isEqualTo((hi << 32) | lo);
    }

    @Test
    void onlyTheLow32BitsOfTheSeedMatter() {
        float[] base = new TorchGenerator(5).next(64).data();
        assertBitEqual("seed 5 + 2^32", base, new TorchGenerator(5 + (1L << 32)).next(64).data());
        assertBitEqual("seed -1 = 2^32-1", new TorchGenerator(0xffffffffL).next(20).data(),
                new TorchGenerator(-1).next(20).data());
        assertThat(new TorchGenerator(6).next(64).data()).isNotEqualTo(base);
    }

    // ---- values published with PyTorch examples (4 decimals) ---------------------------------------------

    @Test
    void floatUniformsMatchTorchRand() {
        // torch.manual_seed(0); torch.rand(3) -> [0.4963, 0.7682, 0.0885]
        TorchGenerator g0 = new TorchGenerator(0);
        assertThat(g0.nextFloatUniform()).isCloseTo(0.4963f, within(5e-5f));
        assertThat(g0.nextFloatUniform()).isCloseTo(0.7682f, within(5e-5f));
        assertThat(g0.nextFloatUniform()).isCloseTo(0.0885f, within(5e-5f));
        // torch.manual_seed(42); torch.rand(3) -> [0.8823, 0.9150, 0.3829]
        TorchGenerator g42 = new TorchGenerator(42);
        assertThat(g42.nextFloatUniform()).isCloseTo(0.8823f, within(5e-5f));
        assertThat(g42.nextFloatUniform()).isCloseTo(0.9150f, within(5e-5f));
        assertThat(g42.nextFloatUniform()).isCloseTo(0.3829f, within(5e-5f));
        // exact grid: 24 random bits
        TorchGenerator g = new TorchGenerator(3);
        for (int i = 0; i < 1000; i++) {
            float u = g.nextFloatUniform();
            assertThat(u).isBetween(0f, 1f - 0x1p-24f);
            assertThat(u * 0x1p24f).isEqualTo((float) Math.rint(u * 0x1p24f));
        }
    }

    /**
     * Shapes under 16 elements take torch's scalar double path. Expected values: the widely published outputs of
     * {@code torch.manual_seed(0); torch.randn(10)} and {@code torch.manual_seed(42); torch.randn(10)}
     * (4 decimals). They pin the order u1 (angle) / u2 (radius), cosine first, and the cached sine.
     */
    @Test
    void smallShapesMatchPublishedTorchRandn() {
        float[] seed0 = new TorchGenerator(0).next(10).data();
        assertClose(seed0, 1.5410f, -0.2934f, -2.1788f, 0.5684f, -1.0845f, -1.3986f, 0.4033f, 0.8380f, -0.7193f, -0.4033f);
        float[] seed42 = new TorchGenerator(42).next(2, 5).data();
        assertClose(seed42, 0.3367f, 0.1288f, 0.2345f, 0.2303f, -1.1229f, -0.1863f, 2.2082f, -0.6380f, 0.4617f, 0.2674f);
        // torch.manual_seed(0); torch.randn(2, 3) -> the same stream in a 2x3 shape
        FloatTensor t = new TorchGenerator(0).next(2, 3);
        assertThat(t.shape()).containsExactly(2, 3);
        assertClose(t.data(), 1.5410f, -0.2934f, -2.1788f, 0.5684f, -1.0845f, -1.3986f);
    }

    @Test
    void scalarPathIsDoubleBoxMullerFromFiftyThreeBitUniforms() {
        // internal consistency with the documented formula (not a torch comparison: see the test above)
        TorchGenerator uniforms = new TorchGenerator(1234);
        double u1 = uniforms.nextDoubleUniform();
        double u2 = uniforms.nextDoubleUniform();
        double r = Math.sqrt(-2.0 * StrictMath.log1p(-u2));
        float[] got = new TorchGenerator(1234).next(2).data();
        assertThat(got[0]).isEqualTo((float) (r * StrictMath.cos(2.0 * Math.PI * u1)));
        assertThat(got[1]).isEqualTo((float) (r * StrictMath.sin(2.0 * Math.PI * u1)));
        // 53-bit grid
        for (int i = 0; i < 100; i++) {
            double u = uniforms.nextDoubleUniform();
            assertThat(u).isBetween(0.0, 1.0 - 0x1p-53);
            assertThat(u * 0x1p53).isEqualTo(Math.rint(u * 0x1p53));
        }
    }

    @Test
    void cachedSecondValueCarriesOverToTheNextSmallDraw() {
        float[] pair = new TorchGenerator(0).next(2).data();
        TorchGenerator g = new TorchGenerator(0);
        float first = g.next(1).data()[0];
        assertThat(g.hasCachedNormal()).isTrue();
        float second = g.next(1).data()[0];
        assertThat(g.hasCachedNormal()).isFalse();
        assertThat(new float[] {first, second}).isEqualTo(pair);

        // three then four = seven
        float[] seven = new TorchGenerator(9).next(7).data();
        TorchGenerator h = new TorchGenerator(9);
        float[] a = h.next(3).data();
        float[] b = h.next(4).data();
        float[] joined = Arrays.copyOf(a, 7);
        System.arraycopy(b, 0, joined, 3, 4);
        assertBitEqual("3 + 4 draws", seven, joined);
        assertThat(h.hasCachedNormal()).isTrue();
    }

    @Test
    void manualSeedResetsStreamAndCache() {
        TorchGenerator g = new TorchGenerator(11);
        float[] first = g.next(5).data();
        g.next(40);
        assertThat(g.hasCachedNormal()).isTrue();
        g.manualSeed(11);
        assertThat(g.hasCachedNormal()).isFalse();
        assertThat(g.initialSeed()).isEqualTo(11);
        assertBitEqual("after manualSeed", first, g.next(5).data());
    }

    @Test
    void vectorisedPathNeitherUsesNorClearsTheCache() {
        float[] pair = new TorchGenerator(0).next(2).data();
        TorchGenerator g = new TorchGenerator(0);
        g.next(1);                        // 4 engine outputs, sine cached
        float[] big = g.next(16).data();
        assertThat(g.hasCachedNormal()).isTrue();
        assertThat(g.next(1).data()[0]).isEqualTo(pair[1]);

        TorchGenerator skipped = new TorchGenerator(0);
        for (int i = 0; i < 4; i++) skipped.nextFloatUniform();
        assertBitEqual("16 after one scalar draw", skipped.next(16).data(), big);
    }

    // ---- vectorised path structure -----------------------------------------------------------------------

    @Test
    void vectorisedPathIsBoxMullerOverBlocksOfSixteenUniforms() {
        TorchGenerator uniforms = new TorchGenerator(77);
        float[] expected = new float[48];
        for (int i = 0; i < 48; i++) expected[i] = uniforms.nextFloatUniform();
        for (int b = 0; b < 48; b += 16) Avx2BoxMuller.transform16(expected, b);
        assertBitEqual("48 values", expected, new TorchGenerator(77).next(3, 16).data());

        // block j pairs element j (radius) with j+8 (angle)
        float[] u = new float[16];
        TorchGenerator g = new TorchGenerator(77);
        for (int i = 0; i < 16; i++) u[i] = g.nextFloatUniform();
        for (int j = 0; j < 8; j++) {
            double r = Math.sqrt(-2.0 * Math.log(1.0 - u[j]));
            double t = 2.0 * Math.PI * u[j + 8];
            assertThat((double) expected[j]).isCloseTo(r * Math.cos(t), within(2e-6 * Math.max(1, r)));
            assertThat((double) expected[j + 8]).isCloseTo(r * Math.sin(t), within(2e-6 * Math.max(1, r)));
        }
    }

    @Test
    void prefixPropertyForMultiplesOfSixteen() {
        float[] long64 = new TorchGenerator(5).next(1, 4, 4, 4).data();
        TorchGenerator g = new TorchGenerator(5);
        float[] a = g.next(32).data();
        float[] b = g.next(32).data();
        assertBitEqual("first half", Arrays.copyOfRange(long64, 0, 32), a);
        assertBitEqual("second half", Arrays.copyOfRange(long64, 32, 64), b);
    }

    /**
     * Element counts that are not multiples of 16 (no fixture has one, so this is checked against the documented
     * algorithm only, not against torch): all n uniforms are drawn, the full blocks transformed, then 16 fresh
     * uniforms overwrite the last 16 positions and are transformed; n + 16 engine outputs are consumed.
     */
    @Test
    void tailThatIsNotAMultipleOfSixteenIsRedrawn() {
        for (int n : new int[] {16, 17, 31, 33, 40, 100}) {
            TorchGenerator uniforms = new TorchGenerator(2024);
            float[] expected = new float[n];
            for (int i = 0; i < n; i++) expected[i] = uniforms.nextFloatUniform();
            int full = n / 16 * 16;
            for (int b = 0; b < full; b += 16) Avx2BoxMuller.transform16(expected, b);
            if (full != n) {
                for (int i = n - 16; i < n; i++) expected[i] = uniforms.nextFloatUniform();
                Avx2BoxMuller.transform16(expected, n - 16);
            }
            TorchGenerator g = new TorchGenerator(2024);
            assertBitEqual("n=" + n, expected, g.next(n).data());
            // the next draw continues after exactly n (+16 with a tail) engine outputs
            assertBitEqual("after n=" + n, uniforms.next(16).data(), g.next(16).data());
        }
        // 17 values: value 0 is from the first block, values 1..16 from the redrawn block
        float[] seventeen = new TorchGenerator(1).next(17).data();
        float[] sixteen = new TorchGenerator(1).next(16).data();
        assertThat(seventeen[0]).isEqualTo(sixteen[0]);
        assertThat(Arrays.copyOfRange(seventeen, 1, 17)).isNotEqualTo(Arrays.copyOfRange(sixteen, 1, 16 + 1));
    }

    @Test
    void emptyShapeDrawsNothing() {
        TorchGenerator g = new TorchGenerator(3);
        FloatTensor empty = g.next(1, 0, 4);
        assertThat(empty.data()).isEmpty();
        assertThat(empty.shape()).containsExactly(1, 0, 4);
        assertBitEqual("after empty", new TorchGenerator(3).next(16).data(), g.next(16).data());
    }

    // ---- transcendental kernels --------------------------------------------------------------------------

    @Test
    void cephesLogIsAccurateOverTheUniformRange() {
        for (int k = 1; k <= 1 << 24; k += 997) {
            float x = k * 0x1p-24f;
            double exact = Math.log(x);
            assertThat((double) Avx2BoxMuller.log(x)).as("log(%s)", x)
                    .isCloseTo(exact, within(Math.max(2 * Math.ulp((float) exact), 1e-7)));
        }
        assertThat(Avx2BoxMuller.log(1f)).isEqualTo(0f);
        assertThat(Avx2BoxMuller.log(0.5f)).isCloseTo((float) Math.log(0.5), within(1e-7f));
    }

    @Test
    void cephesSinCosAreAccurateOverOneTurn() {
        float[] out = new float[2];
        for (int k = 0; k < 1 << 24; k += 613) {
            float t = (float) (2.0 * Math.PI) * (k * 0x1p-24f);
            Avx2BoxMuller.sinCosScaled(t, 1f, out, 0, 1);
            assertThat((double) out[0]).as("cos(%s)", t).isCloseTo(Math.cos(t), within(3e-7));
            assertThat((double) out[1]).as("sin(%s)", t).isCloseTo(Math.sin(t), within(3e-7));
        }
        Avx2BoxMuller.sinCosScaled(-1.0f, 2f, out, 0, 1);
        assertThat((double) out[1]).isCloseTo(2 * Math.sin(-1.0), within(1e-6));
    }

    // ---- distribution and batches --------------------------------------------------------------------------

    @Test
    void largeDrawLooksStandardNormal() {
        float[] v = new TorchGenerator(99).next(1, 4, 128, 128).data();
        double sum = 0;
        double sq = 0;
        int beyond3 = 0;
        for (float x : v) {
            assertThat(Float.isFinite(x)).isTrue();
            sum += x;
            sq += x * x;
            if (Math.abs(x) > 3) beyond3++;
        }
        double mean = sum / v.length;
        double var = sq / v.length - mean * mean;
        assertThat(mean).isCloseTo(0, within(0.02));
        assertThat(var).isCloseTo(1, within(0.03));
        assertThat(beyond3 / (double) v.length).isCloseTo(0.0027, within(0.0015));
    }

    @Test
    void batchedDrawIsOneTensorFromOneGenerator() {
        // diffusers with one generator: randn((2, 4, 8, 8)) -- for a per-image size that is a multiple of 16,
        // image 0 equals a single-image draw and image 1 equals the second single-image draw of the same generator
        FloatTensor batch = new TorchGenerator(8).next(2, 4, 8, 8);
        assertThat(batch.shape()).containsExactly(2, 4, 8, 8);
        TorchGenerator single = new TorchGenerator(8);
        assertBitEqual("image 0", single.next(1, 4, 8, 8).data(), batch.slice(0).data());
        assertBitEqual("image 1", single.next(1, 4, 8, 8).data(), batch.slice(1).data());
    }

    @Test
    void perImageSeedsDrawEachImageFromItsOwnGenerator() {
        PerImageSeeds seeds = PerImageSeeds.consecutive(100, 3);
        assertThat(seeds.seeds()).containsExactly(100, 101, 102);
        assertThat(seeds.imageCount()).isEqualTo(3);
        for (int round = 0; round < 2; round++) {
            FloatTensor batch = seeds.next(3, 4, 5, 3);   // 60 per image: not a multiple of 16
            assertThat(batch.shape()).containsExactly(3, 4, 5, 3);
            for (int i = 0; i < 3; i++) {
                TorchGenerator own = new TorchGenerator(100 + i);
                if (round == 1) own.next(1, 4, 5, 3);
                assertBitEqual("round " + round + " image " + i, own.next(1, 4, 5, 3).data(), batch.slice(i).data());
            }
        }
        assertThatThrownBy(() -> seeds.next(2, 4, 5, 3)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> seeds.next()).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(PerImageSeeds::new).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> PerImageSeeds.consecutive(1, 0)).isInstanceOf(IllegalArgumentException.class);
    }

    // ---- speed ---------------------------------------------------------------------------------------------

    @Test
    void latentSizedDrawIsFast() {
        TorchGenerator g = new TorchGenerator(1);
        float[] sink = new float[1];
        for (int i = 0; i < 300; i++) sink[0] += g.next(1, 4, 128, 128).data()[i];
        long[] times = new long[21];
        for (int i = 0; i < times.length; i++) {
            long t0 = System.nanoTime();
            FloatTensor t = g.next(1, 4, 128, 128);
            times[i] = System.nanoTime() - t0;
            sink[0] += t.data()[i];
        }
        Arrays.sort(times);
        double medianMs = times[times.length / 2] / 1e6;
        assertThat(Float.isFinite(sink[0])).isTrue();
        assertThat(medianMs).as("median ms for 65536 values").isLessThan(10.0);
    }

    private static void assertClose(float[] actual, float... expected) {
        assertThat(actual).hasSize(expected.length);
        for (int i = 0; i < expected.length; i++) {
            assertThat(actual[i]).as("value %d", i).isCloseTo(expected[i], within(5e-5f));
        }
    }
}
