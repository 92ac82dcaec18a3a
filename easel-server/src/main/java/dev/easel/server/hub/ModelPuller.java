package dev.easel.server.hub;

import dev.easel.server.config.ServerConfig.FileSource;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.function.ToLongFunction;

/**
 * Brings a model's files from the hub into the models dir. Each file is received into {@code <target>.part}
 * (resumed with {@code Range} after a broken connection, in this run or the next), checked against the hub's
 * SHA-256 (or git blob id), and only then renamed into place, atomically: a file under its final name is
 * always complete and verified. Several files download at once.
 */
public final class ModelPuller {
    private static final int BUFFER = 1 << 20;

    /**
     * @param parallel  files at once
     * @param retries   resumptions of a broken transfer before giving up
     * @param backoff   wait before the first resumption, doubled each time
     * @param freeSpace usable bytes on the disk of a directory (a probe tests replace)
     */
    public record Options(int parallel, int retries, Duration backoff, ToLongFunction<Path> freeSpace) {
        public static Options of(int parallel, int retries) {
            return new Options(parallel, retries, Duration.ofSeconds(2), ModelPuller::usableSpace);
        }

        public Options withFreeSpace(ToLongFunction<Path> probe) {
            return new Options(parallel, retries, backoff, probe);
        }

        public Options withBackoff(Duration d) {
            return new Options(parallel, retries, d, freeSpace);
        }
    }

    /**
     * One file of a plan.
     *
     * @param remote    the hub's metadata; empty when the file is already in place (nothing asked of the hub)
     * @param present   already in the models dir under its final name
     * @param partBytes bytes already received by an earlier, interrupted pull
     */
    public record PlannedFile(FileSource source, Path target, Optional<RemoteFile> remote, boolean present, long partBytes) {
        public Path part() {
            return target.resolveSibling(target.getFileName() + ".part");
        }

        public long size() {
            return remote.map(RemoteFile::size).orElse(-1L);
        }

        /** The file's name in the models dir, as messages show it. */
        public String name() {
            return source.target();
        }
    }

    /** What a pull will do: every file, with metadata for the missing ones. */
    public record Plan(List<PlannedFile> files) {
        public List<PlannedFile> missing() {
            return files.stream().filter(f -> !f.present()).toList();
        }

        /** Bytes still to receive (parts already on disk count as received). */
        public long bytesToDownload() {
            return missing().stream().mapToLong(f -> Math.max(0, f.size() - f.partBytes())).sum();
        }

        public long totalBytes() {
            return missing().stream().mapToLong(PlannedFile::size).sum();
        }
    }

    private final HubClient hub;
    private final Path modelsDir;
    private final Options options;

    public ModelPuller(HubClient hub, Path modelsDir, Options options) {
        this.hub = hub;
        this.modelsDir = modelsDir;
        this.options = options;
    }

    public HubClient hub() {
        return hub;
    }

    public Path modelsDir() {
        return modelsDir;
    }

    /** Where {@code f} goes in the models dir. */
    public Path target(FileSource f) {
        return modelsDir.resolve(f.target()).normalize();
    }

    /**
     * Asks the hub about every missing file (once per target, the same file may be listed by two sources).
     * Refusals (gated, not found) surface here, before a byte is written.
     */
    public Plan plan(List<FileSource> sources) throws PullException {
        Map<Path, PlannedFile> byTarget = new LinkedHashMap<>();
        List<String> refusals = new ArrayList<>();
        for (FileSource f : sources) {
            Path target = target(f);
            if (byTarget.containsKey(target)) continue;
            if (Files.exists(target)) {
                byTarget.put(target, new PlannedFile(f, target, Optional.empty(), true, 0));
                continue;
            }
            try {
                RemoteFile remote = hub.metadata(f);
                PlannedFile p = new PlannedFile(f, target, Optional.of(remote), false, 0);
                byTarget.put(target, new PlannedFile(f, target, Optional.of(remote), false, partBytes(p.part())));
            } catch (HubException e) {
                refusals.add(f.target() + ": " + e.getMessage());
            } catch (IOException e) {
                refusals.add(f.target() + ": cannot reach " + hub.endpoint() + " (" + describe(e) + ")");
            }
        }
        if (!refusals.isEmpty()) throw new PullException(String.join("\n", refusals));
        return new Plan(List.copyOf(byTarget.values()));
    }

    /** Downloads the plan's missing files; throws with every file's failure once all have stopped. */
    public void pull(Plan plan, PullListener listener) throws PullException {
        List<PlannedFile> missing = plan.missing();
        if (missing.isEmpty()) return;
        checkSpace(plan);
        ExecutorService pool = Executors.newFixedThreadPool(Math.min(options.parallel(), missing.size()),
                Thread.ofPlatform().daemon().name("easel-pull-", 0).factory());
        List<Future<?>> running = new ArrayList<>();
        for (PlannedFile f : missing) {
            running.add(pool.submit(() -> {
                try {
                    download(f, listener);
                    listener.finished(f);
                } catch (PullException e) {
                    listener.failed(f, e.getMessage());
                    throw e;
                }
                return null;
            }));
        }
        List<String> failures = new ArrayList<>();
        try {
            for (Future<?> r : running) {
                try {
                    r.get();
                } catch (ExecutionException e) {
                    failures.add(e.getCause() instanceof PullException p ? p.getMessage() : String.valueOf(e.getCause()));
                }
            }
        } catch (InterruptedException e) {
            pool.shutdownNow();
            Thread.currentThread().interrupt();
            throw new PullException("interrupted; the next pull resumes the partial files");
        } finally {
            pool.shutdown();
        }
        if (!failures.isEmpty()) throw new PullException(String.join("\n", failures));
    }

    /** The bytes still to come must fit on the models dir's disk: checked before anything starts. */
    private void checkSpace(Plan plan) throws PullException {
        try {
            Files.createDirectories(modelsDir);
        } catch (IOException e) {
            throw new PullException("cannot create the models dir " + modelsDir + ": " + describe(e));
        }
        long need = plan.bytesToDownload();
        long free = options.freeSpace().applyAsLong(modelsDir);
        if (free >= 0 && need > free) {
            throw new PullException("not enough disk space in " + modelsDir.toAbsolutePath() + ": the download needs "
                    + Bytes.format(need) + ", " + Bytes.format(free) + " is free. Nothing was downloaded.");
        }
    }

    private void download(PlannedFile f, PullListener listener) throws PullException {
        RemoteFile remote = f.remote().orElseThrow();
        Path part = f.part();
        try {
            Files.createDirectories(part.getParent());
            try (FileChannel channel = FileChannel.open(part, StandardOpenOption.CREATE, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
                FileLock lock = lock(channel);
                if (lock == null) throw new PullException(f.name() + ": another pull is downloading it into " + part);
                try {
                    receive(f, remote, channel, listener);
                    channel.force(true);
                } finally {
                    lock.release();
                }
            }
            Files.createDirectories(f.target().getParent());
            Files.move(part, f.target(), StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            throw new PullException(f.name() + ": " + describe(e));
        }
    }

    /** Fills the part file to the remote size, resuming after broken connections, then checks its digest. */
    private void receive(PlannedFile f, RemoteFile remote, FileChannel channel, PullListener listener) throws IOException, PullException {
        long have = channel.size();
        if (have > remote.size()) {
            channel.truncate(0);
            have = 0;
        }
        Digest digest = new Digest(remote);
        digest.absorb(channel, have);
        listener.started(f, have);
        int failures = 0;
        ByteBuffer buffer = ByteBuffer.allocate(BUFFER);
        while (have < remote.size()) {
            try (HubClient.Transfer t = hub.open(remote, have)) {
                if (t.start() != have) { // the server ignored the range: start over
                    channel.truncate(0);
                    have = 0;
                    digest = new Digest(remote);
                }
                InputStream in = t.body();
                while (have < remote.size()) {
                    int n = in.read(buffer.array(), 0, (int) Math.min(buffer.capacity(), remote.size() - have));
                    if (n < 0) throw new IOException("the connection closed after " + have + " of " + remote.size() + " bytes");
                    buffer.limit(n).position(0);
                    while (buffer.hasRemaining()) channel.write(buffer, have + buffer.position());
                    digest.update(buffer.array(), n);
                    have += n;
                    buffer.clear();
                    listener.progress(f, have);
                }
            } catch (HubException e) {
                throw new PullException(f.name() + ": " + e.getMessage());
            } catch (IOException e) {
                failures++;
                if (failures > options.retries()) {
                    throw new PullException(f.name() + ": the transfer was interrupted (" + describe(e) + "); "
                            + Bytes.format(have) + " of " + Bytes.format(remote.size()) + " are kept in " + f.part().getFileName()
                            + ": run the same pull again to resume it");
                }
                listener.retrying(f, failures, describe(e));
                sleep(options.backoff().multipliedBy(1L << Math.min(failures - 1, 5)));
            }
        }
        Optional<String> mismatch = digest.mismatch();
        if (mismatch.isPresent()) {
            channel.truncate(0);
            Files.deleteIfExists(f.part());
            throw new PullException(f.name() + ": checksum mismatch (" + mismatch.get() + "); the download was deleted, "
                    + "run the pull again to fetch it anew");
        }
    }

    private static FileLock lock(FileChannel channel) throws IOException {
        try {
            return channel.tryLock();
        } catch (OverlappingFileLockException e) {
            return null;
        }
    }

    /** SHA-256 of an LFS file, or the git blob id ({@code sha1("blob <size>\0" + bytes)}) of a small one. */
    private static final class Digest {
        private final RemoteFile remote;
        private final MessageDigest md;

        Digest(RemoteFile remote) {
            this.remote = remote;
            try {
                md = MessageDigest.getInstance(remote.sha256().isPresent() || remote.gitSha1().isEmpty() ? "SHA-256" : "SHA-1");
            } catch (NoSuchAlgorithmException e) {
                throw new IllegalStateException(e);
            }
            if (remote.sha256().isEmpty() && remote.gitSha1().isPresent()) {
                md.update(("blob " + remote.size() + "\0").getBytes(StandardCharsets.US_ASCII));
            }
        }

        void update(byte[] bytes, int n) {
            md.update(bytes, 0, n);
        }

        /** Hashes the {@code length} bytes an earlier run left in the part file. */
        void absorb(FileChannel channel, long length) throws IOException {
            ByteBuffer b = ByteBuffer.allocate(BUFFER);
            for (long pos = 0; pos < length; ) {
                b.clear().limit((int) Math.min(b.capacity(), length - pos));
                int n = channel.read(b, pos);
                if (n < 0) throw new IOException("the partial file shrank while being read");
                md.update(b.array(), 0, n);
                pos += n;
            }
        }

        Optional<String> mismatch() {
            String got = HexFormat.of().formatHex(md.digest());
            Optional<String> expected = remote.sha256().or(remote::gitSha1);
            if (expected.isEmpty() || expected.get().equalsIgnoreCase(got)) return Optional.empty();
            return Optional.of((remote.sha256().isPresent() ? "sha256" : "git blob id") + " expected " + expected.get() + ", got " + got);
        }
    }

    private static long partBytes(Path part) {
        try {
            return Files.isRegularFile(part) ? Files.size(part) : 0;
        } catch (IOException e) {
            return 0;
        }
    }

    static long usableSpace(Path dir) {
        try {
            Path existing = dir.toAbsolutePath();
            while (existing != null && !Files.exists(existing)) existing = existing.getParent();
            return existing == null ? -1 : Files.getFileStore(existing).getUsableSpace();
        } catch (IOException e) {
            return -1;
        }
    }

    private static void sleep(Duration d) throws PullException {
        try {
            Thread.sleep(d);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new PullException("interrupted; the next pull resumes the partial files");
        }
    }

    static String describe(Throwable e) {
        String m = e.getMessage();
        return m == null || m.isBlank() ? e.getClass().getSimpleName() : m;
    }
}
