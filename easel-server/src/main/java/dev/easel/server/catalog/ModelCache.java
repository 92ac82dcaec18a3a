package dev.easel.server.catalog;

import dev.easel.engine.runtime.WeightMode;
import dev.easel.diffusion.family.ModelFiles;
import dev.easel.diffusion.pipeline.ImagePipeline;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Stream;

/**
 * The pipelines loaded on one device. A model is loaded on its first use; when loading another would
 * take the weights held beyond the memory budget, the least recently used idle models are closed first.
 * A model larger than the whole budget still loads, alone.
 */
public final class ModelCache implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(ModelCache.class);

    private final PipelineLoader loader;
    private final long budgetBytes;
    /** Access-ordered: the first entry is the least recently used. */
    private final LinkedHashMap<String, Loaded> loaded = new LinkedHashMap<>(8, 0.75f, true);
    private volatile List<String> snapshot = List.of();

    private static final class Loaded {
        final Path weights;
        final ImagePipeline pipeline;
        final long bytes;
        int leases;

        Loaded(Path weights, ImagePipeline pipeline, long bytes) {
            this.weights = weights;
            this.pipeline = pipeline;
            this.bytes = bytes;
        }
    }

    /** A pipeline in use; closing the lease lets the cache unload it again. */
    public final class Lease implements AutoCloseable {
        private final String id;
        private final ImagePipeline pipeline;
        private boolean closed;

        private Lease(String id, ImagePipeline pipeline) {
            this.id = id;
            this.pipeline = pipeline;
        }

        public ImagePipeline pipeline() {
            return pipeline;
        }

        @Override
        public void close() {
            synchronized (ModelCache.this) {
                if (closed) return;
                closed = true;
                Loaded l = loaded.get(id);
                if (l != null && l.pipeline == pipeline) l.leases--;
            }
        }
    }

    public ModelCache(PipelineLoader loader, long budgetBytes) {
        this.loader = loader;
        this.budgetBytes = budgetBytes;
    }

    /** The loaded pipeline of {@code entry}, loading it (and unloading others) if needed. */
    public synchronized Lease acquire(ModelEntry entry) {
        Path weights = entry.weights().orElseThrow(() -> new ModelLoadException(entry.unavailable().orElse("not installed"), null));
        Loaded l = loaded.get(entry.id());
        if (l != null && !l.weights.equals(weights)) {
            if (l.leases == 0) unload(entry.id());
            l = null;
        }
        if (l == null) {
            ModelFiles files = entry.files().orElseThrow();
            makeRoom(Stream.of(Optional.of(files.checkpoint()), files.vae(), files.clipL(), files.t5())
                    .flatMap(Optional::stream).mapToLong(ModelCache::estimateBytes).sum(), entry.id());
            ImagePipeline pipeline;
            long started = System.nanoTime();
            try {
                pipeline = loader.load(files, entry.weightMode());
            } catch (Exception | LinkageError e) {
                throw new ModelLoadException("model '" + entry.id() + "' could not be loaded: " + clientMessage(e, weights), e);
            }
            l = new Loaded(weights, pipeline, Math.max(0, pipeline.memoryBytes()));
            loaded.put(entry.id(), l);
            log.info("loaded model {} ({} family, {} MiB) in {} ms", entry.id(), pipeline.family(), l.bytes >> 20,
                    (System.nanoTime() - started) / 1_000_000);
            makeRoom(0, entry.id());
            snapshot = List.copyOf(loaded.keySet());
        }
        l.leases++;
        return new Lease(entry.id(), l.pipeline);
    }

    /** The weight mode a loaded model runs with; empty when it is not loaded. */
    public synchronized Optional<WeightMode> loadedWeightMode(String id) {
        return Optional.ofNullable(loaded.get(id)).map(l -> l.pipeline.weightMode());
    }

    /** Ids of the loaded models, least recently used first. */
    public List<String> loadedIds() {
        return snapshot;
    }

    public synchronized long loadedBytes() {
        return loaded.values().stream().mapToLong(l -> l.bytes).sum();
    }

    private void makeRoom(long incoming, String keep) {
        long total = loadedBytes() + incoming;
        Iterator<Map.Entry<String, Loaded>> it = loaded.entrySet().iterator();
        List<String> evict = new ArrayList<>();
        while (total > budgetBytes && it.hasNext()) {
            Map.Entry<String, Loaded> e = it.next();
            if (e.getKey().equals(keep) || e.getValue().leases > 0) continue;
            evict.add(e.getKey());
            total -= e.getValue().bytes;
        }
        evict.forEach(this::unload);
        if (total > budgetBytes && incoming == 0) {
            log.warn("models loaded on this device hold {} MiB, above the budget of {} MiB", total >> 20, budgetBytes >> 20);
        }
    }

    private void unload(String id) {
        Loaded l = loaded.remove(id);
        if (l == null) return;
        try {
            l.pipeline.close();
        } catch (RuntimeException e) {
            log.warn("closing model {} failed: {}", id, e.toString());
        }
        snapshot = List.copyOf(loaded.keySet());
        log.info("unloaded model {} ({} MiB)", id, l.bytes >> 20);
    }

    /** Weights on disk; fp16 files grow to fp32 in memory on CPU, so this is a lower bound. */
    static long estimateBytes(Path weights) {
        try (Stream<Path> files = Files.isDirectory(weights) ? Files.walk(weights) : Stream.of(weights)) {
            return files.filter(Files::isRegularFile)
                    .filter(p -> Files.isDirectory(weights) ? p.toString().endsWith(".safetensors") : true)
                    .mapToLong(p -> {
                        try {
                            return Files.size(p);
                        } catch (IOException e) {
                            return 0;
                        }
                    }).sum();
        } catch (IOException e) {
            return 0;
        }
    }

    /** The loader's message without the server's file system layout. */
    private static String clientMessage(Throwable e, Path weights) {
        String m = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
        String name = weights.getFileName().toString();
        m = m.replace(weights.toAbsolutePath().toString(), name).replace(weights.toString(), name);
        Path parent = weights.toAbsolutePath().getParent();
        if (parent != null) m = m.replace(parent + "/", "");
        return m;
    }

    @Override
    public synchronized void close() {
        new ArrayList<>(loaded.keySet()).forEach(this::unload);
    }
}
