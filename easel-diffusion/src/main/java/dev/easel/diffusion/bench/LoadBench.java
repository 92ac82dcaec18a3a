package dev.easel.diffusion.bench;

import dev.easel.engine.runtime.PreparedModelCache;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * {@code easel bench --load}: how long a model takes to load in a fresh process without the prepared-model cache,
 * with an empty cache (the first load, which also writes the entries), and from the cache (twice), each as a ratio
 * to the uncached load of the same run. Every load is its own JVM ({@link LoadTimer}) with this one's options.
 */
public final class LoadBench {
    private static final Pattern RESULT = Pattern.compile("load-seconds ([0-9.]+) peak-rss-gib ([0-9.]+)(.*)");

    private LoadBench() {
    }

    /**
     * @param cacheDir a folder for the cache, emptied before and after (the first load must find nothing)
     * @param prepack  {@code on}, {@code off} or {@code default} (the family's choice)
     */
    public static void run(Path checkpoint, Path cacheDir, String prepack, int threads, PrintWriter out) {
        PreparedModelCache.open(cacheDir, 0).clear();
        try {
            out.printf("load of %s (prepacking %s, %d threads), each in a new process:%n", checkpoint, prepack, threads);
            out.flush();
            double uncached = load(checkpoint, "-", prepack, threads, "without the cache", Double.NaN, out);
            load(checkpoint, cacheDir.toString(), prepack, threads, "first, empty cache", uncached, out);
            double cached = load(checkpoint, cacheDir.toString(), prepack, threads, "from the cache", uncached, out);
            double again = load(checkpoint, cacheDir.toString(), prepack, threads, "from the cache, again", uncached, out);
            out.printf("summary: load from the cache %.1f s = %.2f x the uncached %.1f s%n", Math.min(cached, again),
                    Math.min(cached, again) / uncached, uncached);
        } finally {
            long freed = PreparedModelCache.open(cacheDir, 0).clear();
            out.printf("(cache entries removed: %.2f GB)%n", freed / 1e9);
            out.flush();
        }
    }

    private static double load(Path checkpoint, String cache, String prepack, int threads, String what, double baseline,
                               PrintWriter out) {
        List<String> command = new ArrayList<>();
        command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        command.addAll(ManagementFactory.getRuntimeMXBean().getInputArguments());
        command.addAll(List.of("-cp", System.getProperty("java.class.path"), LoadTimer.class.getName(),
                checkpoint.toString(), cache, prepack, Integer.toString(threads)));
        try {
            Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
            String output = new String(process.getInputStream().readAllBytes());
            int status = process.waitFor();
            Matcher m = output.lines().map(RESULT::matcher).filter(Matcher::matches).findFirst().orElse(null);
            if (status != 0 || m == null) {
                throw new IllegalStateException("the " + what + " load failed (exit " + status + "):\n" + output);
            }
            double seconds = Double.parseDouble(m.group(1));
            out.printf("  %-24s %6.1f s%s, peak RSS %s GiB%s%n", what + ":", seconds,
                    Double.isNaN(baseline) ? "        " : String.format(" (%.2f x)", seconds / baseline), m.group(2), m.group(3));
            out.flush();
            return seconds;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }
}
