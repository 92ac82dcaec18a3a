package dev.easel.diffusion.family;

import java.util.ArrayList;
import java.util.List;

/**
 * The components a family has loaded so far while it assembles a pipeline: when a later one fails, the
 * earlier ones are closed again (their sessions hold gigabytes), newest first.
 */
final class ComponentsLoaded {
    private final List<AutoCloseable> loaded = new ArrayList<>();

    <T extends AutoCloseable> T add(T component) {
        loaded.add(component);
        return component;
    }

    /** Closes everything loaded, recording close failures on {@code failure}, and returns it to be thrown. */
    RuntimeException closeAfter(RuntimeException failure) {
        for (AutoCloseable c : loaded.reversed()) {
            try {
                c.close();
            } catch (Exception suppressed) {
                failure.addSuppressed(suppressed);
            }
        }
        return failure;
    }
}
