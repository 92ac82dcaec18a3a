package dev.easel.server.catalog;

import dev.easel.diffusion.family.ModelFiles;
import dev.easel.server.auth.Tier;
import dev.easel.server.support.FakePipeline;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class ModelCacheTest {
    final Map<String, FakePipeline> made = new HashMap<>();
    final AtomicInteger loads = new AtomicInteger();

    PipelineLoader loader(long bytesEach) {
        return path -> {
            loads.incrementAndGet();
            FakePipeline p = new FakePipeline(0, bytesEach);
            made.put(path.checkpoint().getFileName().toString(), p);
            return p;
        };
    }

    static ModelEntry entry(String id) {
        return new ModelEntry(id, "sd15", Tier.FREE, id, 64, 64, 32, 1024, null, null, null,
                Optional.of(ModelFiles.of(Path.of("/models/" + id))), true, Optional.empty());
    }

    @Test
    void loadsLazilyOnceAndUnloadsTheLeastRecentlyUsedBeyondTheBudget() {
        ModelCache cache = new ModelCache(loader(400), 1000);
        assertThat(cache.loadedIds()).isEmpty();
        cache.acquire(entry("a")).close();
        cache.acquire(entry("a")).close();
        assertThat(loads.get()).isEqualTo(1);
        cache.acquire(entry("b")).close();
        cache.acquire(entry("a")).close(); // a is now the most recently used
        cache.acquire(entry("c")).close(); // 1200 > 1000: b goes
        assertThat(cache.loadedIds()).containsExactlyInAnyOrder("a", "c");
        assertThat(made.get("b").closed).isTrue();
        assertThat(made.get("a").closed).isFalse();
        assertThat(cache.loadedBytes()).isEqualTo(800);
        cache.close();
        assertThat(made.get("a").closed).isTrue();
    }

    @Test
    void aModelInUseIsNeverUnloaded() {
        ModelCache cache = new ModelCache(loader(600), 1000);
        ModelCache.Lease a = cache.acquire(entry("a"));
        cache.acquire(entry("b")).close();
        assertThat(made.get("a").closed).isFalse();
        a.close();
        cache.acquire(entry("c")).close();
        assertThat(made.get("a").closed).isTrue();
    }

    @Test
    void aLoadFailureIsAClearErrorWithoutServerPaths() {
        ModelCache cache = new ModelCache(path -> {
            throw new IllegalArgumentException(path.checkpoint().toAbsolutePath() + ": unsupported checkpoint: a SDXL checkpoint");
        }, 1000);
        assertThatThrownBy(() -> cache.acquire(entry("x"))).isInstanceOf(ModelLoadException.class)
                .hasMessageContaining("SDXL").hasMessageNotContaining("/models/");
    }
}
