package dev.easel.engine.runtime;

import dev.easel.engine.graph.GraphBuilder;
import dev.easel.engine.onnx.proto.Onnx.ModelProto;
import dev.easel.engine.onnx.proto.Onnx.StringStringEntryProto;
import dev.easel.engine.onnx.proto.Onnx.TensorProto;
import dev.easel.engine.weights.WeightSource;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.DirectoryStream;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileTime;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Future;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.function.Supplier;
import java.util.Properties;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * A directory of prepared models: per model component and weight mode, ONNX Runtime's optimized model of the graph
 * with every weight already converted (fp32, or the blocks of a quantized mode) and optimized (fused, NCHWc-reordered),
 * in a data file ONNX Runtime maps instead of reading. Loading from it skips the conversion, the scratch file and the
 * graph optimisation: a model loads in seconds instead of tens of seconds (with prepacking on, GEMM weights are still
 * repacked on load: ONNX Runtime 1.29 crashed running models whose saved prepacked weights it had loaded).
 *
 * <p>An entry is keyed by everything its content follows from ({@link #keyMaterial}): the source files' identity and
 * how each weight is read from them, the graph (a hash of its proto, so any change to a model's builder counts), the
 * ONNX Runtime version, the session options that shape the optimized model, and the CPU (optimized models use the
 * CPU's vector width). A change to any of them makes another key, so a stale entry is never found; it ages out.
 *
 * <p>A first load does not wait for its entry: the session is made from the converted weights as without the cache,
 * and a second session writes the entry behind it ({@link #awaitWrites()} waits for that), where the memory allows
 * two; otherwise the entry is written while loading, from the one session.
 *
 * <p>Safety: an entry is written in a temporary folder and renamed into place whole, with its manifest, so a crashed
 * write never leaves an entry that loads. On load the manifest is checked against the files (sizes, a SHA-256 of the
 * model proto, a SHA-256 of 65 blocks sampled across the data file): a truncated, foreign or damaged entry is
 * rebuilt, never used. Each key has a lock file (an OS file lock, plus a lock within this JVM): two processes loading
 * the same model wait for each other, and one writes the entry while the other then loads it. The cache is bounded:
 * beyond {@link #maxBytes()}, the entries used least recently are deleted (an entry in use is mapped, so deleting it
 * only frees its space once the sessions over it close; an entry being loaded is skipped).
 */
public final class PreparedModelCache {
    /** Bump when the layout of an entry or the way weights are prepared changes: every old entry then misses. */
    static final String FORMAT = "easel-prepared-model-1";

    private static final String MODEL_FILE = "model.onnx";
    private static final String MANIFEST = "entry.properties";
    private static final String KEY_FILE = "key.txt";
    private static final Pattern KEY = Pattern.compile("[0-9a-f]{32}");
    private static final System.Logger LOG = System.getLogger(PreparedModelCache.class.getName());

    /** What the cache has done since it was opened, and what it holds now. */
    public record Stats(long hits, long misses, long rebuilt, long entries, long bytes) {
    }

    /** One entry as {@code easel cache list} shows it. */
    public record Entry(String key, String component, String graph, long bytes, Instant created, Instant lastUsed) {
    }

    private final Path dir;
    private final long maxBytes;
    private final String runtimeVersion;
    private final AtomicLong hits = new AtomicLong();
    private final AtomicLong misses = new AtomicLong();
    private final AtomicLong rebuilt = new AtomicLong();
    /** Writes entries behind loads, one at a time; its thread ends when idle, and keeps the JVM up while it writes. */
    private final ExecutorService writer = new ThreadPoolExecutor(0, 1, 1, TimeUnit.SECONDS, new LinkedBlockingQueue<>(),
            task -> new Thread(task, "prepared-model-writer"));
    private final Set<Future<?>> pendingWrites = ConcurrentHashMap.newKeySet();
    private volatile Supplier<OptionalLong> availableMemory = SystemMemory::availableBytes;

    private PreparedModelCache(Path dir, long maxBytes, String runtimeVersion) {
        this.dir = dir;
        this.maxBytes = maxBytes;
        this.runtimeVersion = runtimeVersion;
    }

    /**
     * The cache in {@code dir} (created if absent), holding at most {@code maxBytes} (0: no bound). Leftovers of
     * writes that crashed are removed.
     */
    public static PreparedModelCache open(Path dir, long maxBytes) {
        return open(dir, maxBytes, OnnxModel.runtimeVersion());
    }

    /** As {@link #open(Path, long)}, keying entries as made by ONNX Runtime {@code runtimeVersion} (tests). */
    static PreparedModelCache open(Path dir, long maxBytes, String runtimeVersion) {
        try {
            Files.createDirectories(dir.resolve("tmp"));
            Files.createDirectories(dir.resolve("locks"));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create the prepared-model cache " + dir, e);
        }
        PreparedModelCache cache = new PreparedModelCache(dir.toAbsolutePath().normalize(), maxBytes, runtimeVersion);
        cache.removeAbandonedWrites();
        return cache;
    }

    /** This cache, seeing {@code available} as the memory available (tests of the choice to write behind or through). */
    PreparedModelCache seeingAvailableMemory(Supplier<OptionalLong> available) {
        availableMemory = available;
        return this;
    }

    public Path dir() {
        return dir;
    }

    public long maxBytes() {
        return maxBytes;
    }

    /**
     * A session over {@code graph} bound to {@code source}'s weights: from the cache when it holds this model, else
     * prepared, written to the cache and loaded from there. A source of a kind the key cannot describe is loaded
     * without the cache.
     *
     * @param weights how the weights are read (as {@link OnnxModel#create} takes them)
     */
    public OnnxModel load(String component, GraphBuilder graph, WeightSource source, OnnxModel.WeightProvider weights,
                          RuntimeOptions options) {
        Optional<String> material = keyMaterial(graph, source, options, runtimeVersion);
        if (material.isEmpty()) return OnnxModel.create(graph, weights, options);
        String key = Checksums.sha256Hex(material.get()).substring(0, 32);
        Path entry = dir.resolve(key);
        CacheLocks.Held lock = CacheLocks.lock(dir.resolve("locks").resolve(key + ".lock"));
        try {
            if (Files.isDirectory(entry)) {
                Optional<Long> weightBytes = verify(entry, material.get());
                if (weightBytes.isPresent()) {
                    try {
                        OnnxModel model = OnnxModel.openOptimized(entry.resolve(MODEL_FILE), options, weightBytes.get());
                        touch(entry);
                        hits.incrementAndGet();
                        return model;
                    } catch (IllegalStateException refused) {
                        // ONNX Runtime refused the files although the manifest matched: rebuild them
                    }
                }
                rebuilt.incrementAndGet();
                delete(entry);
            }
            misses.incrementAndGet();
            long estimate = declaredWeightBytes(graph);
            evict(key, estimate);
            if (!hasRoomFor(estimate)) return OnnxModel.create(graph, weights, options);
            if (!roomToWriteBehind(estimate)) return writeThrough(entry, component, graph, weights, options, material.get());
            OnnxModel.ConvertedWeights converted = OnnxModel.convert(graph, weights, options, null);
            OnnxModel model;
            try {
                model = OnnxModel.open(converted, options, null);
            } catch (RuntimeException e) {
                converted.close();
                throw e;
            }
            writeBehind(lock, entry, component, graph, converted, options, material.get());
            lock = null;
            return model;
        } catch (IOException e) {
            throw new UncheckedIOException("prepared-model cache " + dir + ": " + e.getMessage(), e);
        } finally {
            if (lock != null) lock.close();
        }
    }

    /**
     * Waits until every entry being written behind a load is written (or has failed): a process that loaded a model
     * calls it before it exits, so that the next process finds the entry.
     */
    public void awaitWrites() {
        for (Future<?> write : List.copyOf(pendingWrites)) {
            try {
                write.get();
            } catch (ExecutionException failedAndLogged) {
                // the writer logged it; the next load prepares the model again
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }

    /** Whether entries are being written behind loads now. */
    public boolean writing() {
        return !pendingWrites.isEmpty();
    }

    /**
     * Whether the memory available now leaves room for a second session over the model while the first is in use:
     * ONNX Runtime's optimized copies of the weights (at most their size) and half again for its writing.
     */
    private boolean roomToWriteBehind(long weightBytes) {
        OptionalLong available = availableMemory.get();
        return available.isPresent() && available.getAsLong() > weightBytes + weightBytes / 2 + (1L << 30);
    }

    /**
     * Writes the entry after the load returned, so that the first load takes no longer than one without the cache:
     * a session of its own (one thread, no prepacking) optimizes the converted weights again and writes the result,
     * then the scratch file goes. The key's lock passes to the writer: a load of the same model waits for the entry
     * and then loads it.
     */
    private void writeBehind(CacheLocks.Held lock, Path entry, String component, GraphBuilder graph,
                             OnnxModel.ConvertedWeights converted, RuntimeOptions options, String material) {
        String key = entry.getFileName().toString();
        CompletableFuture<Void> write = CompletableFuture.runAsync(() -> {
            try (lock; converted) {
                writeEntry(entry, component, graph, material, converted.bytes(),
                        model -> OnnxModel.writeOptimized(converted, options, model));
                evict(key, 0);
            } catch (IOException | RuntimeException e) {
                LOG.log(System.Logger.Level.WARNING, "could not write the prepared model of {0} to the cache {1} ({2}); "
                        + "it is prepared again on its next load", component, dir, e.getMessage());
                throw new IllegalStateException(e);
            }
        }, writer);
        pendingWrites.add(write);
        write.whenComplete((done, failed) -> pendingWrites.remove(write));
    }

    /**
     * Writes the entry while loading, from the session that is returned (one optimisation, no second session): for
     * models too large for two sessions at once. This first load takes longer than one without the cache by the
     * time ONNX Runtime takes to write its optimized model.
     */
    private OnnxModel writeThrough(Path entry, String component, GraphBuilder graph, OnnxModel.WeightProvider weights,
                                   RuntimeOptions options, String material) throws IOException {
        try (OnnxModel.ConvertedWeights converted = OnnxModel.convert(graph, weights, options, null)) {
            OnnxModel[] made = new OnnxModel[1];
            try {
                writeEntry(entry, component, graph, material, converted.bytes(),
                        model -> made[0] = OnnxModel.open(converted, options, model));
            } catch (IOException | RuntimeException e) {
                if (made[0] != null) made[0].close();
                throw e;
            }
            evict(entry.getFileName().toString(), 0);
            return made[0];
        }
    }

    /** Everything an entry's content follows from, as text; empty when the source cannot be described. */
    static Optional<String> keyMaterial(GraphBuilder graph, WeightSource source, RuntimeOptions options, String runtimeVersion) {
        ModelProto proto = graph.build();
        return WeightSourceIdentity.describe(source, graph.weights().keySet()).map(weights -> FORMAT + "\n"
                + "onnxruntime " + runtimeVersion + "\n"
                + "session " + OnnxModel.optimizedModelOptions(options) + "\n"
                + "cpu " + CpuIdentity.get() + "\n"
                + "graph " + proto.getGraph().getName() + " " + Checksums.sha256Hex(proto.toByteArray()) + "\n"
                + weights);
    }

    /**
     * Writes the entry in a temporary folder and renames it into place: ONNX Runtime's optimized model and its data
     * file ({@code writeModel}, given the model's path), the key's text, and last the manifest with the files' sizes
     * and checksums.
     */
    private void writeEntry(Path entry, String component, GraphBuilder graph, String material, long weightBytes,
                            Consumer<Path> writeModel) throws IOException {
        Path partial = dir.resolve("tmp").resolve(entry.getFileName() + "." + Long.toHexString(ThreadLocalRandom.current().nextLong()));
        Files.createDirectories(partial);
        try {
            writeModel.accept(partial.resolve(MODEL_FILE));
            writeManifest(partial, component, graph, weightBytes, material);
            Files.move(partial, entry, StandardCopyOption.ATOMIC_MOVE);
        } catch (AtomicMoveNotSupportedException e) {
            throw new IOException("the cache folder must allow renames within it", e);
        } finally {
            if (Files.exists(partial)) deleteTree(partial);
        }
    }

    private static void writeManifest(Path partial, String component, GraphBuilder graph, long weightBytes, String material)
            throws IOException {
        Files.writeString(partial.resolve(KEY_FILE), material);
        Properties manifest = new Properties();
        manifest.setProperty("component", component);
        manifest.setProperty("graph", graph.build().getGraph().getName());
        manifest.setProperty("created", Instant.now().toString());
        manifest.setProperty("weight-bytes", Long.toString(weightBytes));
        for (Path file : contentFiles(partial)) {
            manifest.setProperty("size." + file.getFileName(), Long.toString(Files.size(file)));
            manifest.setProperty("sha256." + file.getFileName(), checksum(file));
        }
        try (OutputStream out = Files.newOutputStream(partial.resolve(MANIFEST))) {
            manifest.store(out, "easel prepared model");
        }
    }

    /** The entry's weight bytes when its manifest matches its files and its key; empty when it must be rebuilt. */
    private Optional<Long> verify(Path entry, String material) {
        try {
            Properties manifest = readManifest(entry);
            if (manifest == null || !material.equals(Files.readString(entry.resolve(KEY_FILE)))) return Optional.empty();
            List<Path> files = contentFiles(entry);
            if (files.size() < 2 || files.size() != manifest.stringPropertyNames().stream().filter(k -> k.startsWith("size.")).count()) {
                return Optional.empty();
            }
            for (Path file : files) {
                String name = file.getFileName().toString();
                if (!Long.toString(Files.size(file)).equals(manifest.getProperty("size." + name))
                        || !checksum(file).equals(manifest.getProperty("sha256." + name))) {
                    return Optional.empty();
                }
            }
            return Optional.of(Long.parseLong(manifest.getProperty("weight-bytes")));
        } catch (IOException | RuntimeException e) {
            return Optional.empty();
        }
    }

    /** The model proto and its data files (everything but the manifest and the key). */
    private static List<Path> contentFiles(Path entry) throws IOException {
        try (Stream<Path> files = Files.list(entry)) {
            return files.filter(f -> !f.getFileName().toString().equals(MANIFEST) && !f.getFileName().toString().equals(KEY_FILE))
                    .sorted().toList();
        }
    }

    /** The proto (small) is hashed whole, a data file by samples: a 10 GB entry is checked in milliseconds. */
    private static String checksum(Path file) throws IOException {
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ)) {
            return file.getFileName().toString().equals(MODEL_FILE)
                    ? HexFormat.of().formatHex(Checksums.sha256(channel, 0, channel.size()))
                    : Checksums.sampledSha256(channel);
        }
    }

    private static Properties readManifest(Path entry) throws IOException {
        Path file = entry.resolve(MANIFEST);
        if (!Files.isRegularFile(file)) return null;
        Properties manifest = new Properties();
        try (InputStream in = Files.newInputStream(file)) {
            manifest.load(in);
        }
        return manifest;
    }

    /** Marks the entry used now (its manifest's modification time), for the least-recently-used order. */
    private static void touch(Path entry) throws IOException {
        Files.setLastModifiedTime(entry.resolve(MANIFEST), FileTime.from(Instant.now()));
    }

    /** The bytes of the weights {@code graph} declares: about the size of its entry. */
    private static long declaredWeightBytes(GraphBuilder graph) {
        long total = 0;
        for (TensorProto t : graph.build().getGraph().getInitializerList()) {
            for (StringStringEntryProto e : t.getExternalDataList()) {
                if (e.getKey().equals("length")) total += Long.parseLong(e.getValue());
            }
        }
        return total;
    }

    /** Whether the disk has room for an entry of about {@code bytes} (prepacked weights take up to twice as much). */
    private boolean hasRoomFor(long bytes) throws IOException {
        return Files.getFileStore(dir).getUsableSpace() > 2 * bytes + (1L << 30);
    }

    // ---- listing, eviction, clearing --------------------------------------------------------------

    public List<Entry> list() {
        List<Entry> entries = new ArrayList<>();
        for (Path entry : entryDirs()) {
            try {
                Properties manifest = readManifest(entry);
                if (manifest == null) continue;
                entries.add(new Entry(entry.getFileName().toString(), manifest.getProperty("component", "?"),
                        manifest.getProperty("graph", "?"), size(entry), Instant.parse(manifest.getProperty("created")),
                        Files.getLastModifiedTime(entry.resolve(MANIFEST)).toInstant()));
            } catch (IOException | RuntimeException e) {
                // an entry being deleted or rebuilt by another process right now
            }
        }
        entries.sort(Comparator.comparing(Entry::lastUsed).reversed());
        return entries;
    }

    public Stats stats() {
        List<Entry> entries = list();
        return new Stats(hits.get(), misses.get(), rebuilt.get(), entries.size(), entries.stream().mapToLong(Entry::bytes).sum());
    }

    /** Deletes every entry not being loaded right now; returns the bytes freed. */
    public long clear() {
        long freed = 0;
        for (Entry e : list()) freed += deleteIfIdle(e);
        return freed;
    }

    /**
     * Deletes entries, least recently used first, until those left and {@code incoming} more bytes fit in
     * {@link #maxBytes()}; never {@code keep}, nor an entry another loader holds.
     */
    private void evict(String keep, long incoming) {
        if (maxBytes <= 0) return;
        List<Entry> entries = new ArrayList<>(list());
        long total = entries.stream().mapToLong(Entry::bytes).sum() + incoming;
        entries.sort(Comparator.comparing(Entry::lastUsed));
        for (Entry e : entries) {
            if (total <= maxBytes) return;
            if (!e.key().equals(keep)) total -= deleteIfIdle(e);
        }
    }

    private long deleteIfIdle(Entry e) {
        Optional<CacheLocks.Held> lock = CacheLocks.tryLock(dir.resolve("locks").resolve(e.key() + ".lock"));
        if (lock.isEmpty()) return 0;
        try (CacheLocks.Held ignored = lock.get()) {
            delete(dir.resolve(e.key()));
            return e.bytes();
        } catch (IOException ex) {
            return 0;
        }
    }

    /** Removes an entry: renamed out of place first, so that no loader ever sees it half deleted. */
    private void delete(Path entry) throws IOException {
        Path doomed = dir.resolve("tmp").resolve(entry.getFileName() + ".deleted." + Long.toHexString(ThreadLocalRandom.current().nextLong()));
        try {
            Files.move(entry, doomed, StandardCopyOption.ATOMIC_MOVE);
        } catch (NoSuchFileException | FileAlreadyExistsException e) {
            return;
        }
        deleteTree(doomed);
    }

    /** Temporary folders of writes whose process died (their key's lock is free) and of interrupted deletions. */
    private void removeAbandonedWrites() {
        try (DirectoryStream<Path> stream = Files.newDirectoryStream(dir.resolve("tmp"))) {
            for (Path partial : stream) {
                String key = partial.getFileName().toString().split("\\.")[0];
                Optional<CacheLocks.Held> lock = CacheLocks.tryLock(dir.resolve("locks").resolve(key + ".lock"));
                if (lock.isEmpty()) continue;
                try (CacheLocks.Held ignored = lock.get()) {
                    deleteTree(partial);
                }
            }
        } catch (IOException e) {
            // leftovers only take space; the next open tries again
        }
    }

    private List<Path> entryDirs() {
        List<Path> entries = new ArrayList<>();
        try (DirectoryStream<Path> stream = Files.newDirectoryStream(dir, p -> KEY.matcher(p.getFileName().toString()).matches())) {
            stream.forEach(entries::add);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list the prepared-model cache " + dir, e);
        }
        return entries;
    }

    private static long size(Path entry) throws IOException {
        try (Stream<Path> files = Files.list(entry)) {
            long total = 0;
            for (Path f : files.toList()) total += Files.size(f);
            return total;
        }
    }

    private static void deleteTree(Path root) throws IOException {
        if (!Files.exists(root)) return;
        try (Stream<Path> paths = Files.walk(root)) {
            for (Path p : paths.sorted(Comparator.reverseOrder()).toList()) Files.deleteIfExists(p);
        }
    }
}
