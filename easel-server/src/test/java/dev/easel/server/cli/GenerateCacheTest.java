package dev.easel.server.cli;

import com.fasterxml.jackson.databind.JsonNode;
import dev.easel.engine.runtime.PreparedModelCache;
import dev.easel.server.support.Fixtures;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * {@code easel generate --cache-dir}: the first run leaves the prepared model in the folder (written behind the
 * load, awaited before the process ends), the second loads it from there and draws the same PNG, byte for byte;
 * {@code --no-cache} writes nothing.
 */
class GenerateCacheTest {
    private static final int STEPS = 2;
    private static final String SEED = "1234";

    @TempDir
    Path tmp;

    /** The tiny SD 1.5 model with a text-to-image case's prompt and size (the fixtures' own, read as data). */
    private List<String> generate(Path out, String... extra) {
        Fixtures.Case c = Fixtures.cases("sd15").stream()
                .filter(k -> k.manifest().path("kind").asText().equals("txt2img") && !k.models().isEmpty()).findFirst().orElse(null);
        assumeTrue(c != null, "no sd15 txt2img case with weights in " + Fixtures.root());
        JsonNode p = c.params();
        List<String> args = new ArrayList<>(List.of("generate", "--model", c.models().getFirst().toString(),
                "--prompt", p.get("prompt").asText(), "--size", p.get("width").asInt() + "x" + p.get("height").asInt(),
                "--steps", Integer.toString(STEPS), "--seed", SEED, "-o", out.toString()));
        args.addAll(List.of(extra));
        return args;
    }

    private static CliRun run(List<String> args) {
        CliRun run = CliRun.of(args.toArray(String[]::new));
        assertThat(run.exitCode()).as(run.toString()).isZero();
        return run;
    }

    @Test
    void theSecondRunLoadsWhatTheFirstPreparedAndDrawsTheSameImage() throws IOException {
        Path cache = tmp.resolve("cache");
        Path first = tmp.resolve("first.png");
        Path second = tmp.resolve("second.png");

        run(generate(first, "--cache-dir", cache.toString()));
        // the run has returned: every prepared component is in the folder already, whole (its manifest checks out)
        List<PreparedModelCache.Entry> written = PreparedModelCache.open(cache, 0).list();
        assertThat(written).as("entries in " + cache + " after the first run").isNotEmpty();
        assertThat(written).extracting(PreparedModelCache.Entry::component).contains("unet", "vae");
        assertThat(written).allMatch(e -> e.bytes() > 0);
        // make the first run's use look an hour old, so that the second run's use shows
        Instant before = Instant.now().minus(1, ChronoUnit.HOURS);
        for (PreparedModelCache.Entry e : written) markUsed(cache.resolve(e.key()), before);

        Instant secondStart = Instant.now().truncatedTo(ChronoUnit.SECONDS);
        run(generate(second, "--cache-dir", cache.toString()));
        Map<String, PreparedModelCache.Entry> after = PreparedModelCache.open(cache, 0).list().stream()
                .collect(Collectors.toMap(PreparedModelCache.Entry::key, e -> e));
        assertThat(after.keySet()).as("no entry added or replaced").isEqualTo(written.stream().map(PreparedModelCache.Entry::key)
                .collect(Collectors.toSet()));
        for (PreparedModelCache.Entry e : written) {
            PreparedModelCache.Entry now = after.get(e.key());
            // a hit marks the entry used; a rebuild would have made it anew
            assertThat(now.created()).as(e.component() + " " + e.key() + " created").isEqualTo(e.created());
            assertThat(now.lastUsed()).as(e.component() + " " + e.key() + " used by the second run").isAfterOrEqualTo(secondStart);
        }
        assertThat(Files.readAllBytes(second)).as("PNG of the run from the cache vs the first run's").isEqualTo(Files.readAllBytes(first));
    }

    @Test
    void noCacheWritesNothingAndDrawsTheSameImage() throws IOException {
        Path cache = tmp.resolve("cache");
        Path cached = tmp.resolve("cached.png");
        Path uncached = tmp.resolve("uncached.png");
        run(generate(cached, "--cache-dir", cache.toString()));
        assertThat(PreparedModelCache.open(cache, 0).list()).isNotEmpty();

        Path unused = tmp.resolve("unused");
        Path cliDefault = CacheCommand.cliDefaultDir();
        List<String> defaultBefore = keys(cliDefault);
        run(generate(uncached, "--cache-dir", unused.toString(), "--no-cache"));
        assertThat(keys(unused)).as("entries in the --cache-dir given with --no-cache").isEmpty();
        assertThat(keys(cliDefault)).as("entries in the CLI's default cache " + cliDefault).isEqualTo(defaultBefore);
        assertThat(Files.readAllBytes(uncached)).as("PNG without the cache vs with it").isEqualTo(Files.readAllBytes(cached));
    }

    /** The entry folders under {@code dir} (none when it does not exist), without opening it as a cache. */
    private static List<String> keys(Path dir) throws IOException {
        if (!Files.isDirectory(dir)) return List.of();
        try (Stream<Path> files = Files.list(dir)) {
            return files.map(f -> f.getFileName().toString()).filter(n -> n.matches("[0-9a-f]{32}")).sorted().toList();
        }
    }

    private static void markUsed(Path entry, Instant when) throws IOException {
        try (Stream<Path> files = Files.list(entry)) {
            for (Path f : files.filter(Files::isRegularFile).toList()) Files.setLastModifiedTime(f, FileTime.from(when));
        }
    }
}
