package dev.easel.engine.runtime;

import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;

/**
 * Runs one task per item on a few platform threads, each taking the next item as it finishes one (weights differ
 * in size by orders of magnitude, so fixed shares would leave a thread idle). The first failure stops the others
 * taking new items and is thrown once all have stopped.
 */
final class ParallelTasks {
    private ParallelTasks() {
    }

    static <T> void run(List<T> items, int threads, Consumer<T> task) {
        AtomicInteger next = new AtomicInteger();
        AtomicReference<Throwable> failure = new AtomicReference<>();
        Runnable worker = () -> {
            for (int i = next.getAndIncrement(); i < items.size() && failure.get() == null; i = next.getAndIncrement()) {
                try {
                    task.accept(items.get(i));
                } catch (Throwable e) {
                    if (!failure.compareAndSet(null, e)) failure.get().addSuppressed(e);
                }
            }
        };
        int helpers = Math.min(threads, items.size()) - 1;
        Thread[] started = new Thread[Math.max(0, helpers)];
        for (int i = 0; i < started.length; i++) started[i] = Thread.ofPlatform().name("easel-convert-" + i).start(worker);
        worker.run();
        for (Thread t : started) {
            try {
                t.join();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                failure.compareAndSet(null, e);
            }
        }
        Throwable e = failure.get();
        if (e instanceof RuntimeException r) throw r;
        if (e instanceof Error err) throw err;
        if (e != null) throw new IllegalStateException(e);
    }
}
