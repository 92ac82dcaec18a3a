package dev.easel.server.catalog;

import dev.easel.engine.runtime.WeightMode;
import dev.easel.diffusion.convert.CheckpointInspector;
import dev.easel.diffusion.convert.FluxFiles;
import dev.easel.diffusion.family.Flux;
import dev.easel.diffusion.family.ModelFamily;
import dev.easel.diffusion.family.ModelFiles;
import dev.easel.diffusion.convert.UnsupportedCheckpointException;
import dev.easel.server.auth.Tier;
import dev.easel.server.config.ServerConfig;
import dev.easel.server.hub.Bytes;
import dev.easel.server.hub.ModelDownloads;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.function.Function;
import java.util.stream.Stream;

/**
 * The models the server offers: every catalog entry (installed or not) plus every other checkpoint
 * found in the models dir. A catalog id is found as a file {@code <id>}, {@code <id>.safetensors} or a
 * diffusers folder {@code <id>/}; a dropped-in checkpoint is served under its file name. The models dir
 * is rescanned at most every few seconds, so a file dropped in while the server runs appears by itself.
 */
public final class ModelCatalog {
    private static final Logger log = LoggerFactory.getLogger(ModelCatalog.class);
    private static final Duration RESCAN = Duration.ofSeconds(5);
    /** Files looked at as checkpoints: what easel-diffusion loads, and what it names as unsupported. */
    private static final Set<String> CHECKPOINT_SUFFIXES = Set.of(".safetensors", ".ckpt", ".pt", ".pth", ".bin", ".gguf");

    private final ServerConfig config;
    private final Clock clock;
    private final Map<String, LoadFailure> loadFailures = new HashMap<>();
    private final ByFileVersion<Inspection> probes = new ByFileVersion<>();
    private Map<String, ModelEntry> entries = Map.of();
    private Instant scannedAt = Instant.MIN;
    private volatile ModelDownloads downloads;

    private record LoadFailure(Path weights, long stamp, String reason) {
    }

    private final ByFileVersion<Optional<WeightMode>> ggufModes = new ByFileVersion<>();

    /** What a file's header gave, read again only when the file changes (its modification time or size). */
    private static final class ByFileVersion<T> {
        private record Stamped<T>(long stamp, T value) {
        }

        private final Map<Path, Stamped<T>> values = new HashMap<>();

        T get(Path file, Function<Path, T> read) {
            long stamp = stamp(file);
            Stamped<T> cached = values.get(file);
            if (cached != null && cached.stamp() == stamp) return cached.value();
            T value = read.apply(file);
            values.put(file, new Stamped<>(stamp, value));
            return value;
        }
    }

    public ModelCatalog(ServerConfig config, Clock clock) {
        this.config = config;
        this.clock = clock;
        refresh(true);
    }

    public synchronized List<ModelEntry> all() {
        refresh(false);
        return List.copyOf(entries.values());
    }

    public synchronized Optional<ModelEntry> find(String id) {
        refresh(false);
        return Optional.ofNullable(entries.get(id));
    }

    /** {@code easel serve --pull}: catalog models whose files are missing are downloaded when asked for. */
    public void pullMissingWith(ModelDownloads downloads) {
        this.downloads = downloads;
    }

    /** The download of a model's files started by a request, if any. */
    public Optional<ModelDownloads.Status> download(String id) {
        ModelDownloads d = downloads;
        return d == null ? Optional.empty() : d.status(id);
    }

    /**
     * With {@code --pull}: a catalog model that is not installed and lists its files starts (or joins) their
     * download, and the request is told to come back ({@link ModelDownloadingException}); a download that failed
     * is answered with its reason. Without {@code --pull}, or for an installed model, nothing happens.
     */
    public ModelEntry pullIfMissing(ModelEntry m) {
        ModelDownloads d = downloads;
        ServerConfig.ModelConfig cfg = config.catalog().get(m.id());
        if (d == null || m.installed() || !m.catalogued() || cfg == null || cfg.filesOrEmpty().isEmpty()) return m;
        if (d.status(m.id()).map(s -> s.state() == ModelDownloads.State.DONE).orElse(false)) {
            ModelEntry now = rescanned(m);
            if (now.installed()) return now;
        }
        ModelDownloads.Status s = d.ensure(m.id(), cfg.filesOrEmpty());
        return switch (s.state()) {
            case DOWNLOADING -> throw new ModelDownloadingException("The model '" + m.id() + "' is being downloaded to this server"
                    + (s.totalBytes() > 0 ? " (" + Bytes.format(s.bytes()) + " of " + Bytes.format(s.totalBytes()) + ")" : "")
                    + "; try again shortly.", s.retryAfterSeconds(clock.instant()));
            case FAILED -> throw new ModelLoadException("the model '" + m.id() + "' could not be downloaded: "
                    + s.error().orElse("unknown error"), null);
            case DONE -> rescanned(m);
        };
    }

    private synchronized ModelEntry rescanned(ModelEntry m) {
        refresh(true);
        return Optional.ofNullable(entries.get(m.id())).orElse(m);
    }

    /** Remembers why a model failed to load; listed until its weights change on disk. */
    public synchronized void recordLoadFailure(ModelEntry entry, String reason) {
        entry.weights().ifPresent(w -> loadFailures.put(entry.id(), new LoadFailure(w, stamp(w), reason)));
        refresh(true);
    }

    public synchronized void refresh(boolean force) {
        Instant now = clock.instant();
        if (!force && now.isBefore(scannedAt.plus(RESCAN))) return;
        scannedAt = now;
        Map<String, Path> found = listModelsDir();
        Map<String, ModelEntry> next = new LinkedHashMap<>();
        Set<String> claimed = new HashSet<>();
        config.catalog().forEach((id, cfg) -> {
            Optional<ModelFiles> files = locate(id, cfg, found).map(checkpoint -> withComponents(checkpoint, cfg));
            files.ifPresent(f -> Stream.of(Optional.of(f.checkpoint()), f.vae(), f.clipL(), f.t5())
                    .flatMap(Optional::stream).forEach(p -> claimed.add(p.getFileName().toString())));
            next.put(id, catalogued(id, cfg, files));
        });
        List<String> names = new ArrayList<>(found.keySet());
        Collections.sort(names);
        for (String name : names) {
            if (claimed.contains(name) || next.containsKey(name)) continue;
            detected(name, found.get(name)).ifPresent(e -> next.put(e.id(), e));
        }
        next.replaceAll((id, e) -> applyLoadFailure(e));
        entries = next;
    }

    private ModelEntry applyLoadFailure(ModelEntry e) {
        LoadFailure failure = loadFailures.get(e.id());
        if (failure == null || e.unavailable().isPresent()) return e;
        if (e.weights().isEmpty() || !e.weights().get().equals(failure.weights()) || stamp(failure.weights()) != failure.stamp()) {
            loadFailures.remove(e.id());
            return e;
        }
        return e.withUnavailable(Optional.of(failure.reason()));
    }

    private Map<String, Path> listModelsDir() {
        Map<String, Path> found = new HashMap<>();
        Path dir = config.modelsDir();
        if (!Files.isDirectory(dir)) return found;
        try (DirectoryStream<Path> children = Files.newDirectoryStream(dir)) {
            for (Path p : children) {
                String name = p.getFileName().toString();
                if (!name.startsWith(".")) found.put(name, p);
            }
        } catch (IOException e) {
            log.warn("cannot list models dir {}: {}", dir, e.getMessage());
        }
        return found;
    }

    private Optional<Path> locate(String id, ServerConfig.ModelConfig cfg, Map<String, Path> found) {
        if (cfg.path() != null && !cfg.path().isBlank()) {
            Path p = config.modelsDir().resolve(cfg.path());
            if (Files.exists(p)) return Optional.of(p);
        }
        for (String name : List.of(id, id + ".safetensors")) {
            Path p = found.get(name);
            if (p != null && (Files.isRegularFile(p) || Files.isDirectory(p))) return Optional.of(p);
        }
        return Optional.empty();
    }

    /** The catalog entry's separate component files (FLUX.1's), relative to the models dir; others are found beside. */
    private ModelFiles withComponents(Path checkpoint, ServerConfig.ModelConfig cfg) {
        return new ModelFiles(checkpoint, component(cfg.vae()), component(cfg.clipL()), component(cfg.t5()));
    }

    private Optional<Path> component(String relative) {
        return relative == null || relative.isBlank() ? Optional.empty() : Optional.of(config.modelsDir().resolve(relative));
    }

    private ModelEntry catalogued(String id, ServerConfig.ModelConfig cfg, Optional<ModelFiles> weights) {
        Optional<ModelFamily> family = ModelFamily.byId(cfg.family());
        ModelFamily traits = family.orElse(ModelFamily.SD15);
        int[] size = parseSize(cfg.size()).orElse(new int[]{traits.defaultSide(), traits.defaultSide()});
        Optional<String> unavailable = Optional.empty();
        if (family.isEmpty()) {
            unavailable = Optional.of("family '" + cfg.family() + "' is not known to this server");
        } else if (weights.isEmpty()) {
            unavailable = Optional.of("the weights of '" + id + "' are not installed on this server"
                    + (cfg.filesOrEmpty().isEmpty()
                    ? "; put its checkpoint in the models dir as '" + (cfg.path() != null ? cfg.path() : id + ".safetensors") + "'"
                    : "; install them with `easel pull " + id + "` (or start the server with `easel serve --pull`)"));
        }
        return new ModelEntry(id, cfg.family(), Tier.parse(cfg.tier()).orElse(Tier.FREE),
                cfg.description() == null ? traits.displayName() : cfg.description(),
                size[0], size[1],
                cfg.minSize() != null ? cfg.minSize() : traits.minSide(),
                cfg.maxSize() != null ? cfg.maxSize() : traits.maxSide(),
                cfg.steps(), cfg.guidanceScale(), cfg.sampler(),
                weights, true, unavailable, cfg.weights() != null ? WeightMode.parse(cfg.weights())
                        : weights.flatMap(f -> ggufMode(f.checkpoint())).orElse(null));
    }

    private Optional<ModelEntry> detected(String name, Path path) {
        String lower = name.toLowerCase(Locale.ROOT);
        boolean folder = Files.isDirectory(path);
        if (folder && !Files.isRegularFile(path.resolve("model_index.json"))) return Optional.empty();
        if (!folder && CHECKPOINT_SUFFIXES.stream().noneMatch(lower::endsWith)) return Optional.empty();
        Tier tier = Tier.parse(config.detectedModelTier()).orElse(Tier.FREE);
        Inspection inspection = inspected(path);
        // A FLUX.1 model's separate autoencoder and text encoders are parts of it, not models of their own.
        if (inspection.component()) return Optional.empty();
        if (inspection.family().isEmpty()) {
            ModelFamily f = ModelFamily.SD15;
            return Optional.of(new ModelEntry(name, "unknown", tier, "unsupported checkpoint " + name,
                    f.defaultSide(), f.defaultSide(), f.minSide(), f.maxSide(),
                    null, null, null, Optional.of(ModelFiles.of(path)), false, Optional.of(inspection.reason())));
        }
        ModelFamily f = inspection.family().get();
        return Optional.of(new ModelEntry(name, f.id(), tier, f.displayName() + " checkpoint " + name,
                f.defaultSide(), f.defaultSide(), f.minSide(), f.maxSide(),
                null, null, null, Optional.of(ModelFiles.of(path)), false, Optional.empty(), ggufMode(path).orElse(null)));
    }

    /** The family found by easel-diffusion's inspector (headers only), or why there is none. */
    private record Inspection(Optional<ModelFamily> family, String reason, boolean component) {
    }

    private Inspection inspected(Path path) {
        return probes.get(path, ModelCatalog::inspect);
    }

    private static Inspection inspect(Path path) {
        try {
            return new Inspection(Optional.of(CheckpointInspector.inspect(path).family()), "", false);
        } catch (UnsupportedCheckpointException e) {
            boolean component = CheckpointInspector.component(path).isPresent();
            return new Inspection(Optional.empty(), withoutPath(e.getMessage(), path).replaceFirst("^unsupported checkpoint: ", ""), component);
        } catch (RuntimeException e) {
            return new Inspection(Optional.empty(), "cannot be read: " + withoutPath(String.valueOf(e.getMessage()), path), false);
        }
    }

    /**
     * The weight mode a GGUF transformer runs in by default ({@link Flux#quantizedDefault} of what its blocks hold, read
     * from its header once per version of the file); empty for other checkpoints and for a GGUF that cannot be read
     * (its load says why).
     */
    private Optional<WeightMode> ggufMode(Path checkpoint) {
        if (!FluxFiles.isGguf(checkpoint)) return Optional.empty();
        return ggufModes.get(checkpoint, file -> {
            try {
                return FluxFiles.storedMode(file).map(Flux::quantizedDefault);
            } catch (RuntimeException unreadable) {
                return Optional.empty();
            }
        });
    }

    /** A message without the server's directories: "/srv/models/x.safetensors: bad" -> "bad". */
    static String withoutPath(String message, Path path) {
        String m = message;
        for (String prefix : new String[]{path.toAbsolutePath() + ": ", path + ": "}) {
            if (m.startsWith(prefix)) m = m.substring(prefix.length());
        }
        return m.replace(path.toAbsolutePath().toString(), path.getFileName().toString());
    }

    private static long stamp(Path p) {
        try {
            Path target = Files.isDirectory(p) && Files.exists(p.resolve("model_index.json")) ? p.resolve("model_index.json") : p;
            return Files.getLastModifiedTime(target).toMillis() * 31 + (Files.isRegularFile(target) ? Files.size(target) : 0);
        } catch (IOException e) {
            return -1;
        }
    }

    public static Optional<int[]> parseSize(String size) {
        if (size == null) return Optional.empty();
        String[] parts = size.trim().toLowerCase(Locale.ROOT).split("x");
        if (parts.length != 2) return Optional.empty();
        try {
            int w = Integer.parseInt(parts[0]);
            int h = Integer.parseInt(parts[1]);
            return w > 0 && h > 0 ? Optional.of(new int[]{w, h}) : Optional.empty();
        } catch (NumberFormatException e) {
            return Optional.empty();
        }
    }
}
