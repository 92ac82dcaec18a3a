package dev.easel.engine.runtime;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Exclusive locks on lock files, between processes (OS file locks) and between threads of this JVM (file locks are
 * held per process, and a second lock on the same file from the same JVM would fail rather than wait).
 */
final class CacheLocks {
    private static final ConcurrentHashMap<Path, ReentrantLock> IN_PROCESS = new ConcurrentHashMap<>();

    private CacheLocks() {
    }

    /** A held lock; closing releases it. */
    interface Held extends AutoCloseable {
        @Override
        void close();
    }

    /** Waits for the lock on {@code file} (created if absent). */
    static Held lock(Path file) {
        ReentrantLock local = IN_PROCESS.computeIfAbsent(file.toAbsolutePath().normalize(), f -> new ReentrantLock());
        local.lock();
        try {
            FileChannel channel = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
            try {
                return release(local, channel, channel.lock());
            } catch (IOException | RuntimeException e) {
                channel.close();
                throw e;
            }
        } catch (IOException e) {
            local.unlock();
            throw new UncheckedIOException("cannot lock " + file, e);
        } catch (RuntimeException e) {
            local.unlock();
            throw e;
        }
    }

    /** The lock on {@code file} if no one holds it now; empty otherwise. */
    static Optional<Held> tryLock(Path file) {
        ReentrantLock local = IN_PROCESS.computeIfAbsent(file.toAbsolutePath().normalize(), f -> new ReentrantLock());
        if (!local.tryLock()) return Optional.empty();
        try {
            FileChannel channel = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
            FileLock lock = channel.tryLock();
            if (lock == null) {
                channel.close();
                local.unlock();
                return Optional.empty();
            }
            return Optional.of(release(local, channel, lock));
        } catch (IOException | RuntimeException e) {
            local.unlock();
            return Optional.empty();
        }
    }

    private static Held release(ReentrantLock local, FileChannel channel, FileLock lock) {
        return () -> {
            try {
                lock.release();
                channel.close();
            } catch (IOException ignored) {
                // closing the channel releases the lock in any case
            } finally {
                local.unlock();
            }
        };
    }
}
