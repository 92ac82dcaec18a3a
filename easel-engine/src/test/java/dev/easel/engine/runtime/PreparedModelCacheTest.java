package dev.easel.engine.runtime;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

class PreparedModelCacheTest {
    private static final RuntimeOptions OPTIONS = RuntimeOptions.defaults().withThreads(2);

    @TempDir
    Path tmp;

    private Path weights() {
        return CacheTestModel.writeWeights(tmp.resolve("weights.safetensors"), 1);
    }

    private PreparedModelCache cache() {
        return PreparedModelCache.open(tmp.resolve("cache"), 0);
    }

    @ParameterizedTest(name = "prepack {0}")
    @ValueSource(booleans = {true, false})
    void aCachedLoadComputesBitIdenticalResultsToAnUncachedOne(boolean prepack) {
        RuntimeOptions options = OPTIONS.withPrepack(prepack);
        Path weights = weights();
        float[] uncached = CacheTestModel.run(weights, 0, options, null);
        PreparedModelCache cache = cache();
        float[] first = CacheTestModel.run(weights, 0, options, cache);
        float[] second = CacheTestModel.run(weights, 0, options, cache);
        float[] cold = CacheTestModel.run(weights, 0, options, cache());

        assertThat(first).containsExactly(uncached);
        assertThat(second).containsExactly(uncached);
        assertThat(cold).containsExactly(uncached);
        assertThat(cache.stats().misses()).isEqualTo(1);
        assertThat(cache.stats().hits()).isEqualTo(1);
        assertThat(cache.list()).hasSize(1);
    }

    /**
     * A first load returns before its entry is written (a second session, without prepacking, writes it behind), or,
     * where the memory available does not allow two sessions, writes it while loading. Both write the same files, for
     * fp32 and quantized (prepacked MatMulNBits, the prepacked w8a8 GEMM) layers alike: the written model holds no
     * prepacked weights.
     */
    @ParameterizedTest(name = "variant {0}")
    @ValueSource(ints = {0, CacheTestModel.QUANTIZED, CacheTestModel.W8A8})
    void writingBehindTheLoadOrWhileLoadingWritesTheSameEntry(int variant) throws IOException {
        org.junit.jupiter.api.Assumptions.assumeTrue(variant != CacheTestModel.W8A8 || CpuFeatures.integerDotProduct(),
                "w8a8 needs VNNI or AMX on x86; this CPU has neither");
        Path weights = weights();
        // as a pipeline asks for them: quantized layers come with a quantized weight mode
        RuntimeOptions options = OPTIONS.withPrepack(true).withWeights(switch (variant) {
            case CacheTestModel.QUANTIZED -> WeightMode.INT8;
            case CacheTestModel.W8A8 -> WeightMode.W8A8;
            default -> null;
        });
        PreparedModelCache behind = PreparedModelCache.open(tmp.resolve("behind"), 0)
                .seeingAvailableMemory(() -> java.util.OptionalLong.of(Long.MAX_VALUE));
        PreparedModelCache through = PreparedModelCache.open(tmp.resolve("through"), 0)
                .seeingAvailableMemory(() -> java.util.OptionalLong.of(0));

        float[] expected = CacheTestModel.run(weights, variant, options, null);
        assertThat(CacheTestModel.run(weights, variant, options, through)).containsExactly(expected);
        assertThat(through.writing()).isFalse();
        assertThat(through.list()).hasSize(1);
        assertThat(CacheTestModel.run(weights, variant, options, behind)).containsExactly(expected);
        behind.awaitWrites();
        assertThat(behind.writing()).isFalse();

        Path a = onlyEntry(tmp.resolve("behind"));
        Path b = onlyEntry(tmp.resolve("through"));
        assertThat(a.getFileName()).isEqualTo(b.getFileName());
        assertThat(Files.readAllBytes(a.resolve("model.onnx"))).isEqualTo(Files.readAllBytes(b.resolve("model.onnx")));
        assertThat(Files.mismatch(a.resolve("model.onnx.data"), b.resolve("model.onnx.data"))).isEqualTo(-1L);
        assertThat(CacheTestModel.run(weights, variant, options, behind)).containsExactly(expected);
        assertThat(behind.stats().hits()).isEqualTo(1);
    }

    @Test
    void aChangedSourceFileRebuildsTheEntry() throws IOException {
        Path weights = weights();
        PreparedModelCache cache = cache();
        float[] before = CacheTestModel.run(weights, 0, OPTIONS, cache);
        CacheTestModel.writeWeights(weights, 2);
        float[] after = CacheTestModel.run(weights, 0, OPTIONS, cache);

        assertThat(after).containsExactly(CacheTestModel.run(weights, 0, OPTIONS, null));
        assertThat(after).isNotEqualTo(before);
        assertThat(cache.stats().misses()).isEqualTo(2);

        // the same bytes with only another modification time count as another file too
        Files.setLastModifiedTime(weights, FileTime.from(Instant.now().plusSeconds(60)));
        CacheTestModel.run(weights, 0, OPTIONS, cache);
        assertThat(cache.stats().misses()).isEqualTo(3);
        assertThat(cache.stats().hits()).isZero();
    }

    @Test
    void anotherGraphSessionOptionsOrRuntimeVersionRebuildTheEntry() {
        Path weights = weights();
        PreparedModelCache cache = cache();
        CacheTestModel.run(weights, 0, OPTIONS.withPrepack(true), cache);
        float[] otherGraph = CacheTestModel.run(weights, 1, OPTIONS.withPrepack(true), cache);
        CacheTestModel.run(weights, 0, OPTIONS.withPrepack(false), cache);
        assertThat(cache.stats().misses()).isEqualTo(3);
        assertThat(otherGraph).containsExactly(CacheTestModel.run(weights, 1, OPTIONS.withPrepack(true), null));

        PreparedModelCache otherRuntime = PreparedModelCache.open(tmp.resolve("cache"), 0, OnnxModel.runtimeVersion() + "-other");
        CacheTestModel.run(weights, 0, OPTIONS.withPrepack(true), otherRuntime);
        assertThat(otherRuntime.stats().misses()).isEqualTo(1);
        assertThat(cache.list()).hasSize(4);

        // the thread count shapes no entry: the same entry serves it
        CacheTestModel.run(weights, 0, OPTIONS.withPrepack(true).withThreads(1), cache);
        assertThat(cache.stats().hits()).isEqualTo(1);
    }

    enum Damage { TRUNCATED_DATA, CHANGED_DATA_BYTE, CHANGED_MODEL_BYTE, NO_MANIFEST, EXTRA_FILE }

    @ParameterizedTest
    @org.junit.jupiter.params.provider.EnumSource(Damage.class)
    void aDamagedEntryIsDetectedAndRebuiltNeverUsed(Damage damage) throws IOException {
        Path weights = weights();
        float[] expected = CacheTestModel.run(weights, 0, OPTIONS, null);
        PreparedModelCache cache = cache();
        CacheTestModel.run(weights, 0, OPTIONS, cache);
        Path entry = onlyEntry();
        Path data = entry.resolve("model.onnx.data");
        switch (damage) {
            case TRUNCATED_DATA -> {
                try (RandomAccessFile f = new RandomAccessFile(data.toFile(), "rw")) {
                    f.setLength(f.length() - 4096);
                }
            }
            case CHANGED_DATA_BYTE -> flipByte(data, Files.size(data) / 2);
            case CHANGED_MODEL_BYTE -> flipByte(entry.resolve("model.onnx"), Files.size(entry.resolve("model.onnx")) / 2);
            case NO_MANIFEST -> Files.delete(entry.resolve("entry.properties"));
            case EXTRA_FILE -> Files.writeString(entry.resolve("model.onnx.data2"), "stray");
        }
        float[] reloaded = CacheTestModel.run(weights, 0, OPTIONS, cache);

        assertThat(reloaded).containsExactly(expected);
        assertThat(cache.stats().rebuilt()).isEqualTo(1);
        assertThat(cache.stats().hits()).isZero();
        // the rebuilt entry is whole again
        assertThat(CacheTestModel.run(weights, 0, OPTIONS, cache)).containsExactly(expected);
        assertThat(cache.stats().hits()).isEqualTo(1);
    }

    @Test
    void aWriteThatCrashedLeavesNothingThatLoadsAndIsCleanedUp() throws IOException {
        Path weights = weights();
        PreparedModelCache cache = cache();
        CacheTestModel.run(weights, 0, OPTIONS, cache);
        Path entry = onlyEntry();
        // as a process killed while writing leaves it: a partial folder under tmp/
        Path partial = cache.dir().resolve("tmp").resolve(entry.getFileName() + ".deadbeef");
        Files.createDirectories(partial);
        Files.copy(entry.resolve("model.onnx"), partial.resolve("model.onnx"));

        PreparedModelCache reopened = cache();
        assertThat(partial).doesNotExist();
        assertThat(reopened.list()).hasSize(1);
    }

    @Test
    void beyondItsBoundTheLeastRecentlyUsedEntriesAreEvicted() throws IOException {
        Path weights = weights();
        PreparedModelCache probe = cache();
        CacheTestModel.run(weights, 0, OPTIONS, probe);
        long one = probe.list().getFirst().bytes();
        probe.clear();
        assertThat(probe.list()).isEmpty();

        PreparedModelCache cache = PreparedModelCache.open(tmp.resolve("cache"), 2 * one + one / 2);
        CacheTestModel.run(weights, 0, OPTIONS.withPrepack(true), cache);   // A
        CacheTestModel.run(weights, 1, OPTIONS.withPrepack(true), cache);   // B
        CacheTestModel.run(weights, 0, OPTIONS.withPrepack(true), cache);   // A used again: B is now the oldest
        CacheTestModel.run(weights, 0, OPTIONS.withPrepack(false), cache);  // C evicts B

        assertThat(cache.list()).hasSize(2);
        assertThat(cache.list().stream().mapToLong(PreparedModelCache.Entry::bytes).sum()).isLessThanOrEqualTo(cache.maxBytes());
        CacheTestModel.run(weights, 0, OPTIONS.withPrepack(true), cache);
        CacheTestModel.run(weights, 1, OPTIONS.withPrepack(true), cache);
        assertThat(cache.stats().hits()).isEqualTo(2);   // A twice; B had to be rebuilt
        assertThat(cache.stats().misses()).isEqualTo(4);
    }

    /** Real processes on the test classpath, released at the same instant. */
    @Test
    void twoProcessesLoadingTheSameModelBothSucceedAndWriteOneEntry() throws Exception {
        Path weights = weights();
        Path cacheDir = tmp.resolve("cache");
        long startAt = System.currentTimeMillis() + 4000;
        List<Process> processes = new ArrayList<>();
        for (int i = 0; i < 2; i++) {
            processes.add(new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                    "--enable-native-access=ALL-UNNAMED", "-cp", System.getProperty("java.class.path"),
                    CacheLoadProcess.class.getName(), cacheDir.toString(), weights.toString(), Long.toString(startAt))
                    .redirectErrorStream(true).start());
        }
        List<String> results = new ArrayList<>();
        for (Process p : processes) {
            assertThat(p.waitFor(120, TimeUnit.SECONDS)).isTrue();
            String out = new String(p.getInputStream().readAllBytes());
            assertThat(p.exitValue()).as(out).isZero();
            results.add(out.lines().filter(l -> l.startsWith("result ")).findFirst().orElseThrow());
        }
        String expected = "result " + java.util.Arrays.hashCode(CacheTestModel.run(weights, 0, RuntimeOptions.defaults().withThreads(1), null));
        assertThat(results).allSatisfy(r -> assertThat(r).startsWith(expected + " "));
        assertThat(results).containsExactlyInAnyOrder(expected + " hits 0 misses 1", expected + " hits 1 misses 0");
        assertThat(PreparedModelCache.open(cacheDir, 0).list()).hasSize(1);
        try (Stream<Path> left = Files.list(cacheDir.resolve("tmp"))) {
            assertThat(left).isEmpty();
        }
    }

    @Test
    void twoThreadsLoadingTheSameModelShareOneEntry() throws Exception {
        Path weights = weights();
        PreparedModelCache cache = cache();
        float[][] out = new float[2][];
        Thread a = Thread.ofPlatform().start(() -> out[0] = CacheTestModel.run(weights, 0, OPTIONS, cache));
        Thread b = Thread.ofPlatform().start(() -> out[1] = CacheTestModel.run(weights, 0, OPTIONS, cache));
        a.join();
        b.join();
        assertThat(out[0]).containsExactly(out[1]);
        assertThat(cache.stats().misses()).isEqualTo(1);
        assertThat(cache.stats().hits()).isEqualTo(1);
    }

    private Path onlyEntry() throws IOException {
        return onlyEntry(tmp.resolve("cache"));
    }

    private static Path onlyEntry(Path cacheDir) throws IOException {
        try (Stream<Path> entries = Files.list(cacheDir)) {
            List<Path> found = entries.filter(p -> p.getFileName().toString().matches("[0-9a-f]{32}")).toList();
            assertThat(found).hasSize(1);
            return found.getFirst();
        }
    }

    private static void flipByte(Path file, long position) throws IOException {
        try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "rw")) {
            f.seek(position);
            int b = f.read();
            f.seek(position);
            f.write(b ^ 0x5a);
        }
    }
}
