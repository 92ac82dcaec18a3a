package dev.easel.diffusion.family;

import java.util.List;

/** Closing what a half-built pipeline already holds when loading fails. */
final class Cleanup {
    private Cleanup() {
    }

    /** Adds {@code item} to {@code built} and returns it. */
    static <T extends AutoCloseable> T track(List<AutoCloseable> built, T item) {
        built.add(item);
        return item;
    }

    /** Closes {@code built} in reverse order, adding any failure to {@code failure} as suppressed. */
    static void closeAll(List<AutoCloseable> built, RuntimeException failure) {
        for (AutoCloseable c : built.reversed()) {
            try {
                c.close();
            } catch (Exception suppressed) {
                failure.addSuppressed(suppressed);
            }
        }
    }
}
