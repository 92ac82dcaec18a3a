package dev.easel.diffusion.bench;

import java.util.concurrent.atomic.AtomicLong;

/** Samples the anonymous resident memory every 100 ms on a daemon thread, keeping the highest. */
final class AnonymousPeak {
    private final AtomicLong peak = new AtomicLong(MemoryUsage.anonymousRssBytes());
    private final AtomicLong period = new AtomicLong(MemoryUsage.anonymousRssBytes());
    private volatile boolean running = true;
    private Thread thread;

    static AnonymousPeak start() {
        AnonymousPeak p = new AnonymousPeak();
        p.thread = Thread.ofPlatform().daemon().name("anonymous-rss-sampler").start(() -> {
            while (p.running) {
                long now = MemoryUsage.anonymousRssBytes();
                p.peak.accumulateAndGet(now, Math::max);
                p.period.accumulateAndGet(now, Math::max);
                try {
                    Thread.sleep(100);
                } catch (InterruptedException e) {
                    return;
                }
            }
        });
        return p;
    }

    /** The peak since the last call (or the start), and a new period from now. */
    long peakAndRestart() {
        long now = MemoryUsage.anonymousRssBytes();
        return Math.max(period.getAndSet(now), now);
    }

    long peak() {
        return peak.accumulateAndGet(MemoryUsage.anonymousRssBytes(), Math::max);
    }

    long stop() {
        running = false;
        thread.interrupt();
        return peak();
    }
}
