package dev.easel.engine.weights;

import java.lang.foreign.MemorySegment;

/** Pages of a memory-mapped weights file that a load has read and will not read again. */
public final class MappedPages {
    private MappedPages() {
    }

    /**
     * Drops {@code read}'s pages from this process's resident set where it is mapped (the page cache keeps them; a
     * later read maps them again), so that a mapped checkpoint does not add its whole size to the peak RSS of
     * loading a model: a load reads each stored tensor (or each of its row ranges) once.
     */
    public static void release(MemorySegment read) {
        if (read.isMapped()) read.unload();
    }
}
