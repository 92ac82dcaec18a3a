package dev.easel.server.cli;

import dev.easel.diffusion.family.ModelFiles;
import dev.easel.diffusion.pipeline.ImagePipeline;
import dev.easel.diffusion.pipeline.Pipelines;
import dev.easel.engine.runtime.PreparedModelCache;
import dev.easel.engine.runtime.RuntimeOptions;
import dev.easel.server.support.Fixtures;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * {@code easel cache list|clear} on real entries: the tiny SD 1.5 fixture loaded once through a cache folder, each
 * test working on its own copy. Which folder is listed (--cache-dir, the server's cache-dir from --set or a
 * configuration file), a cache turned off, and clearing.
 */
class CacheCommandTest {
    /** The cache folder the fixture model was loaded through, shared by the tests (they copy it). */
    private static Path prepared;

    @TempDir
    static Path shared;

    @TempDir
    Path tmp;

    /** A fresh copy of a cache holding the prepared components of the tiny SD 1.5 model. */
    private Path loadedCache() throws IOException {
        synchronized (CacheCommandTest.class) {
            if (prepared == null) {
                Path dir = shared.resolve("prepared");
                PreparedModelCache cache = PreparedModelCache.open(dir, 0);
                try (ImagePipeline ignored = Pipelines.load(ModelFiles.of(Fixtures.sd15Model()), RuntimeOptions.defaults().withCache(cache))) {
                    // loading is what writes the entries
                } finally {
                    cache.awaitWrites();
                }
                assertThat(cache.list()).as("entries written by loading " + Fixtures.sd15Model()).isNotEmpty();
                prepared = dir;
            }
        }
        Path copy = tmp.resolve("cache-" + System.nanoTime());
        try (Stream<Path> paths = Files.walk(prepared)) {
            for (Path p : paths.toList()) {
                Path target = copy.resolve(prepared.relativize(p).toString());
                if (Files.isDirectory(p)) Files.createDirectories(target);
                else Files.copy(p, target);
            }
        }
        return copy;
    }

    private static List<PreparedModelCache.Entry> entries(Path dir) {
        return PreparedModelCache.open(dir, 0).list();
    }

    // ---------------------------------------------------------------- list

    @Test
    void listOfAnEmptyCacheShowsNoEntries() {
        Path empty = tmp.resolve("empty");
        CliRun run = CliRun.of("cache", "list", "--cache-dir", empty.toString());
        assertThat(run.exitCode()).as(run.toString()).isZero();
        CacheListing listing = CacheListing.parse(run.out());
        assertThat(listing.dir()).isEqualTo(empty.toAbsolutePath().normalize());
        assertThat(listing.rows()).isEmpty();
        assertThat(listing.count()).isZero();
        assertThat(listing.totalBytes()).isZero();
    }

    @Test
    void listShowsEveryPreparedComponentWithItsSizeMostRecentlyUsedFirst() throws IOException {
        Path dir = loadedCache();
        List<PreparedModelCache.Entry> entries = entries(dir);
        // an order of use that is neither the keys' nor the creation order, so that only sorting by use matches it
        List<String> byUse = orderNotFollowingKeysOrCreation(entries);
        Instant now = Instant.now().truncatedTo(ChronoUnit.SECONDS);
        for (int i = 0; i < byUse.size(); i++) markUsed(dir.resolve(byUse.get(i)), now.minus(i, ChronoUnit.HOURS));

        CliRun run = CliRun.of("cache", "list", "--cache-dir", dir.toString());
        assertThat(run.exitCode()).as(run.toString()).isZero();
        CacheListing listing = CacheListing.parse(run.out());
        assertThat(listing.dir()).isEqualTo(dir.toAbsolutePath().normalize());
        assertThat(listing.rows()).extracting(CacheListing.Row::key).as(run.out()).containsExactlyElementsOf(byUse);
        for (int i = 1; i < listing.rows().size(); i++) {
            assertThat(listing.rows().get(i).lastUsed()).isBefore(listing.rows().get(i - 1).lastUsed());
        }
        Map<String, PreparedModelCache.Entry> byKey = entries.stream().collect(Collectors.toMap(PreparedModelCache.Entry::key, e -> e));
        for (CacheListing.Row row : listing.rows()) {
            PreparedModelCache.Entry e = byKey.get(row.key());
            assertThat(row.component()).isEqualTo(e.component());
            assertThat(row.graph()).isEqualTo(e.graph());
            assertThat(e.bytes()).isPositive();
            assertThat(row.bytes()).as(row + " vs " + e.bytes() + " bytes").isPositive()
                    .matches(printed -> CacheListing.close(printed, e.bytes()));
        }
        // SD 1.5 is a text encoder, a UNet and a VAE: the denoiser and the VAE are prepared whatever the fixtures
        assertThat(listing.rows()).extracting(CacheListing.Row::component).contains("unet", "vae");
        long total = entries.stream().mapToLong(PreparedModelCache.Entry::bytes).sum();
        assertThat(listing.count()).isEqualTo(entries.size());
        assertThat(CacheListing.close(listing.totalBytes(), total)).as(listing.totalBytes() + " printed, " + total + " held").isTrue();
    }

    @Test
    void cacheDirFlagWinsOverTheServersConfiguredCacheDir() throws IOException {
        Path loaded = loadedCache();
        Path empty = tmp.resolve("empty");

        CliRun server = CliRun.of("cache", "list", "--set", "cache-dir=" + loaded);
        assertThat(server.exitCode()).as(server.toString()).isZero();
        CacheListing fromConfig = CacheListing.parse(server.out());
        assertThat(fromConfig.dir()).isEqualTo(loaded.toAbsolutePath().normalize());
        assertThat(fromConfig.count()).isEqualTo(entries(loaded).size()).isPositive();

        CliRun flag = CliRun.of("cache", "list", "--set", "cache-dir=" + loaded, "--cache-dir", empty.toString());
        assertThat(flag.exitCode()).as(flag.toString()).isZero();
        CacheListing fromFlag = CacheListing.parse(flag.out());
        assertThat(fromFlag.dir()).isEqualTo(empty.toAbsolutePath().normalize());
        assertThat(fromFlag.count()).isZero();
    }

    @Test
    void theServersConfigurationFileNamesTheCache() throws Exception {
        Path loaded = loadedCache();
        Path config = Files.writeString(tmp.resolve("easel.yaml"), "cache-dir: " + loaded + "\n");
        ProcessRun run = ProcessRun.easel("cache", "list", "--config", config.toString());
        assertThat(run.exitCode()).as(run.toString()).isZero();
        CacheListing listing = CacheListing.parse(run.out());
        assertThat(listing.dir()).isEqualTo(loaded.toAbsolutePath().normalize());
        assertThat(listing.count()).isEqualTo(entries(loaded).size()).isPositive();

        // cache-dir "" (the default): <data-dir>/cache
        Path data = tmp.resolve("data");
        Path defaults = Files.writeString(tmp.resolve("defaults.yaml"), "data-dir: " + data + "\n");
        ProcessRun byDataDir = ProcessRun.easel("cache", "list", "--config", defaults.toString());
        assertThat(byDataDir.exitCode()).as(byDataDir.toString()).isZero();
        assertThat(CacheListing.parse(byDataDir.out()).dir()).isEqualTo(data.resolve("cache").toAbsolutePath().normalize());
    }

    @Test
    void aCacheTurnedOffInTheConfigurationIsOneClearUsageError() throws Exception {
        CliRun set = CliRun.of("cache", "list", "--set", "cache-dir=off");
        assertOffError(set.exitCode(), set.out(), set.err(), set.toString());

        Path config = Files.writeString(tmp.resolve("easel.yaml"), "cache-dir: off\n");
        ProcessRun file = ProcessRun.easel("cache", "clear", "--config", config.toString());
        assertOffError(file.exitCode(), file.out(), file.err(), file.toString());
    }

    private static void assertOffError(int exitCode, String out, String err, String run) {
        // CliErrors.parameterError: bad input is "error: ..." on one line and picocli's usage exit code (2)
        assertThat(exitCode).as(run).isEqualTo(2);
        assertThat(out).as(run).isEmpty();
        List<String> lines = err.lines().toList();
        assertThat(lines).as(run).hasSize(1);
        assertThat(lines.getFirst()).startsWith("error: ").contains("cache-dir: off", "--cache-dir").doesNotContain("Exception");
    }

    @Test
    void cliFlagListsTheCacheOfEaselGenerate() {
        String env = System.getenv("EASEL_CACHE_DIR");
        assumeTrue(env != null && !env.isBlank(), "EASEL_CACHE_DIR is not set (surefire sets it to the build folder)");
        CliRun run = CliRun.of("cache", "list", "--cli");
        assertThat(run.exitCode()).as(run.toString()).isZero();
        assertThat(CacheListing.parse(run.out()).dir()).isEqualTo(Path.of(env).toAbsolutePath().normalize());
    }

    // ---------------------------------------------------------------- clear

    @Test
    void clearDeletesEveryEntryAndSaysWhatItFreed() throws IOException {
        Path dir = loadedCache();
        List<PreparedModelCache.Entry> before = entries(dir);
        long held = before.stream().mapToLong(PreparedModelCache.Entry::bytes).sum();
        assertThat(held).isPositive();

        CliRun clear = CliRun.of("cache", "clear", "--cache-dir", dir.toString());
        assertThat(clear.exitCode()).as(clear.toString()).isZero();
        CacheListing.Cleared cleared = CacheListing.Cleared.parse(clear.out());
        assertThat(cleared.dir()).isEqualTo(dir.toAbsolutePath().normalize());
        assertThat(cleared.left()).isZero();
        assertThat(CacheListing.close(cleared.freedBytes(), held)).as(cleared.freedBytes() + " printed, " + held + " held").isTrue();
        for (PreparedModelCache.Entry e : before) assertThat(dir.resolve(e.key())).doesNotExist();
        assertThat(entries(dir)).isEmpty();

        CliRun list = CliRun.of("cache", "list", "--cache-dir", dir.toString());
        assertThat(list.exitCode()).as(list.toString()).isZero();
        assertThat(CacheListing.parse(list.out()).count()).isZero();
    }

    // ---------------------------------------------------------------- helpers

    /** Marks an entry as last used at {@code when} (the cache reads an entry's use from its files' times). */
    private static void markUsed(Path entry, Instant when) throws IOException {
        try (Stream<Path> files = Files.list(entry)) {
            for (Path f : files.filter(Files::isRegularFile).toList()) Files.setLastModifiedTime(f, FileTime.from(when));
        }
    }

    /** The keys in an order that is none of: by key, by key reversed, by creation, by creation reversed. */
    private static List<String> orderNotFollowingKeysOrCreation(List<PreparedModelCache.Entry> entries) {
        List<String> byKey = entries.stream().map(PreparedModelCache.Entry::key).sorted().toList();
        List<String> byCreation = entries.stream().sorted(Comparator.comparing(PreparedModelCache.Entry::created)
                .thenComparing(PreparedModelCache.Entry::key)).map(PreparedModelCache.Entry::key).toList();
        Set<List<String>> plain = Set.of(byKey, byKey.reversed(), byCreation, byCreation.reversed());
        for (List<String> order : permutations(byKey)) {
            if (!plain.contains(order)) return order;
        }
        return byKey.reversed(); // fewer than 3 entries: no such order
    }

    private static List<List<String>> permutations(List<String> items) {
        if (items.size() <= 1) return List.of(items);
        List<List<String>> out = new ArrayList<>();
        for (String first : items) {
            List<String> rest = new ArrayList<>(items);
            rest.remove(first);
            for (List<String> tail : permutations(rest)) {
                List<String> p = new ArrayList<>(List.of(first));
                p.addAll(tail);
                out.add(p);
            }
        }
        return out;
    }

    /** {@code easel ...} in a JVM of its own, without the EASEL_* environment (which overrides a config file). */
    record ProcessRun(int exitCode, String out, String err) {
        static ProcessRun easel(String... args) throws IOException, InterruptedException {
            List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                    // as the easel launcher runs it: with the default stack (no -Xss4m) the JVM died of SIGSEGV opening the cache
                    "--enable-native-access=ALL-UNNAMED", "--add-modules=jdk.incubator.vector", "-Xss4m", "-Xmx512m",
                    "-cp", System.getProperty("java.class.path"), EaselCli.class.getName()));
            cmd.addAll(List.of(args));
            ProcessBuilder pb = new ProcessBuilder(cmd);
            Map<String, String> env = pb.environment();
            new HashMap<>(env).keySet().stream().filter(k -> k.startsWith("EASEL_")).forEach(env::remove);
            Path out = Files.createTempFile("easel-cli", ".out");
            Path err = Files.createTempFile("easel-cli", ".err");
            try {
                Process p = pb.redirectOutput(out.toFile()).redirectError(err.toFile()).start();
                if (!p.waitFor(120, TimeUnit.SECONDS)) {
                    p.destroyForcibly();
                    throw new AssertionError("easel " + String.join(" ", args) + " did not end in 120 s");
                }
                // the JVM's own warnings (native access) are not the command's output
                String errText = Files.readString(err, StandardCharsets.UTF_8).lines()
                        .filter(line -> !line.startsWith("WARNING: ")).collect(Collectors.joining("\n"));
                return new ProcessRun(p.exitValue(), Files.readString(out, StandardCharsets.UTF_8), errText);
            } finally {
                Files.deleteIfExists(out);
                Files.deleteIfExists(err);
            }
        }

        @Override
        public String toString() {
            return "exit " + exitCode + "\n--- stdout\n" + out + "\n--- stderr\n" + err;
        }
    }
}
