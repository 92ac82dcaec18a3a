package dev.easel.engine.runtime;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Semaphore;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Exclusive locks on lock files, between processes (OS file locks) and between threads of this JVM (file locks are
 * held per process, and a second lock on the same file from the same JVM would fail rather than wait). A held lock
 * belongs to no thread: the thread that loads a model hands it to the one that writes its entry behind.
 */
final class CacheLocks {
    private static final ConcurrentHashMap<Path, Semaphore> IN_PROCESS = new ConcurrentHashMap<>();

    private CacheLocks() {
    }

    /** A held lock; closing releases it. */
    interface Held extends AutoCloseable {
        @Override
        void close();
    }

    /** Waits for the lock on {@code file} (created if absent). */
    static Held lock(Path file) {
        Semaphore local = IN_PROCESS.computeIfAbsent(file.toAbsolutePath().normalize(), f -> new Semaphore(1));
        local.acquireUninterruptibly();
        try {
            FileChannel channel = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
            try {
                return release(local, channel, channel.lock());
            } catch (IOException | RuntimeException e) {
                channel.close();
                throw e;
            }
        } catch (IOException e) {
            local.release();
            throw new UncheckedIOException("cannot lock " + file, e);
        } catch (RuntimeException e) {
            local.release();
            throw e;
        }
    }

    /** The lock on {@code file} if no one holds it now; empty otherwise. */
    static Optional<Held> tryLock(Path file) {
        Semaphore local = IN_PROCESS.computeIfAbsent(file.toAbsolutePath().normalize(), f -> new Semaphore(1));
        if (!local.tryAcquire()) return Optional.empty();
        try {
            FileChannel channel = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
            FileLock lock = channel.tryLock();
            if (lock == null) {
                channel.close();
                local.release();
                return Optional.empty();
            }
            return Optional.of(release(local, channel, lock));
        } catch (IOException | RuntimeException e) {
            local.release();
            return Optional.empty();
        }
    }

    private static Held release(Semaphore local, FileChannel channel, FileLock lock) {
        AtomicBoolean released = new AtomicBoolean();
        return () -> {
            if (!released.compareAndSet(false, true)) return;
            try {
                lock.release();
                channel.close();
            } catch (IOException ignored) {
                // closing the channel releases the lock in any case
            } finally {
                local.release();
            }
        };
    }
}
