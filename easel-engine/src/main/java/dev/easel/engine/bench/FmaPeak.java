package dev.easel.engine.bench;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * Measures this machine's practical fp32 peak: every thread runs independent chains of vector fused
 * multiply-adds (enough of them to hide the FMA latency), so the result is what the cores can issue,
 * the yardstick for achieved GFLOP/s.
 */
public final class FmaPeak {
    private static final VectorSpecies<Float> SPECIES = FloatVector.SPECIES_PREFERRED;
    private static final int CHAINS = 12;

    private FmaPeak() {
    }

    /** GFLOP/s over {@code threads} threads, the best of a few timed rounds after warm-up. */
    public static double measureGflops(int threads, double secondsPerRound) {
        long iterations = 2_000_000;
        runRound(threads, iterations); // warm-up: JIT compiles the loop to vector FMAs
        // Size rounds so each lasts about secondsPerRound.
        long t0 = System.nanoTime();
        runRound(threads, iterations);
        double once = (System.nanoTime() - t0) / 1e9;
        iterations = Math.max(iterations, (long) (iterations * secondsPerRound / Math.max(once, 1e-6)));
        double best = 0;
        for (int round = 0; round < 3; round++) {
            long start = System.nanoTime();
            runRound(threads, iterations);
            double seconds = (System.nanoTime() - start) / 1e9;
            double flops = 2.0 * SPECIES.length() * CHAINS * iterations * threads;
            best = Math.max(best, flops / seconds / 1e9);
        }
        // Until the JIT compiles the loop, every vector operation allocates: the warm-up grows the heap by about a
        // GiB of garbage, which the JVM would keep resident and the benches would count in a model's peak RSS.
        System.gc();
        return best;
    }

    public static int vectorLanes() {
        return SPECIES.length();
    }

    private static void runRound(int threads, long iterations) {
        try (ExecutorService pool = Executors.newFixedThreadPool(threads)) {
            List<Future<Float>> results = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                Callable<Float> work = () -> chains(iterations);
                results.add(pool.submit(work));
            }
            float sink = 0;
            for (Future<Float> f : results) sink += f.get();
            if (Float.isNaN(sink)) throw new IllegalStateException("unexpected NaN");
        } catch (Exception e) {
            throw new IllegalStateException("FMA benchmark failed", e);
        }
    }

    /** 12 independent accumulators; a and b keep values bounded (a*x+b converges) so nothing overflows. */
    private static float chains(long iterations) {
        FloatVector a = FloatVector.broadcast(SPECIES, 0.999f);
        FloatVector b = FloatVector.broadcast(SPECIES, 0.001f);
        FloatVector c0 = FloatVector.broadcast(SPECIES, 0.1f), c1 = FloatVector.broadcast(SPECIES, 0.2f);
        FloatVector c2 = FloatVector.broadcast(SPECIES, 0.3f), c3 = FloatVector.broadcast(SPECIES, 0.4f);
        FloatVector c4 = FloatVector.broadcast(SPECIES, 0.5f), c5 = FloatVector.broadcast(SPECIES, 0.6f);
        FloatVector c6 = FloatVector.broadcast(SPECIES, 0.7f), c7 = FloatVector.broadcast(SPECIES, 0.8f);
        FloatVector c8 = FloatVector.broadcast(SPECIES, 0.9f), c9 = FloatVector.broadcast(SPECIES, 1.0f);
        FloatVector c10 = FloatVector.broadcast(SPECIES, 1.1f), c11 = FloatVector.broadcast(SPECIES, 1.2f);
        for (long i = 0; i < iterations; i++) {
            c0 = c0.fma(a, b); c1 = c1.fma(a, b); c2 = c2.fma(a, b); c3 = c3.fma(a, b);
            c4 = c4.fma(a, b); c5 = c5.fma(a, b); c6 = c6.fma(a, b); c7 = c7.fma(a, b);
            c8 = c8.fma(a, b); c9 = c9.fma(a, b); c10 = c10.fma(a, b); c11 = c11.fma(a, b);
        }
        return c0.add(c1).add(c2).add(c3).add(c4).add(c5).add(c6).add(c7).add(c8).add(c9).add(c10).add(c11)
                .reduceLanes(jdk.incubator.vector.VectorOperators.ADD);
    }
}
