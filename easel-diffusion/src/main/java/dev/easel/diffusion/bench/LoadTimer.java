package dev.easel.diffusion.bench;

import dev.easel.diffusion.pipeline.ImagePipeline;
import dev.easel.diffusion.pipeline.Pipelines;
import dev.easel.engine.runtime.PreparedModelCache;
import dev.easel.engine.runtime.RuntimeOptions;

import java.nio.file.Path;

/**
 * The process {@link LoadBench} times a load in: loads a model (every component) once, through a prepared-model
 * cache or without one, and prints the seconds it took and the cache's counts. Its own process, so that each load
 * starts cold (no JIT, no ONNX Runtime state) as {@code easel generate} or a server start does.
 *
 * <p>Arguments: checkpoint, cache folder or {@code -}, prepacking ({@code on}, {@code off}, {@code default}), threads.
 */
public final class LoadTimer {
    private LoadTimer() {
    }

    public static void main(String[] args) {
        Path checkpoint = Path.of(args[0]);
        RuntimeOptions options = RuntimeOptions.defaults().withThreads(Integer.parseInt(args[3]));
        if (!args[2].equals("default")) options = options.withPrepack(args[2].equals("on"));
        PreparedModelCache cache = args[1].equals("-") ? null : PreparedModelCache.open(Path.of(args[1]), 0);
        long start = System.nanoTime();
        try (ImagePipeline ignored = Pipelines.load(checkpoint, options.withCache(cache))) {
            double seconds = (System.nanoTime() - start) / 1e9;
            String counts = "";
            if (cache != null) {
                // a first load's entries are written behind it: how long until the next process can use them
                cache.awaitWrites();
                counts = String.format(" hits %d misses %d entries-written-after %.1f s", cache.stats().hits(),
                        cache.stats().misses(), (System.nanoTime() - start) / 1e9);
            }
            System.out.printf("load-seconds %.3f peak-rss-gib %.2f%s%n", seconds, MemoryUsage.peakRssBytes() / (1024.0 * 1024 * 1024), counts);
        }
    }
}
