package dev.easel.engine.runtime;

import java.nio.file.Path;
import java.util.Arrays;

/**
 * One process of {@link PreparedModelCacheTest#twoProcessesLoadingTheSameModelBothSucceedAndWriteOneEntry}: waits
 * until the given wall-clock time (so that both load at once), loads the test model through the cache and prints
 * what it computed and whether the cache had it.
 */
public final class CacheLoadProcess {
    private CacheLoadProcess() {
    }

    public static void main(String[] args) throws InterruptedException {
        Path cacheDir = Path.of(args[0]);
        Path weights = Path.of(args[1]);
        long startAt = Long.parseLong(args[2]);
        PreparedModelCache cache = PreparedModelCache.open(cacheDir, 0);
        Thread.sleep(Math.max(0, startAt - System.currentTimeMillis()));
        float[] y = CacheTestModel.run(weights, 0, RuntimeOptions.defaults().withThreads(1), cache);
        cache.awaitWrites();
        PreparedModelCache.Stats stats = cache.stats();
        System.out.println("result " + Arrays.hashCode(y) + " hits " + stats.hits() + " misses " + stats.misses());
    }
}
