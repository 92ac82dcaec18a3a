package dev.easel.engine.weights;

import java.io.IOException;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

/** Pages of a memory-mapped weights file that a load has read and will not read again. */
public final class MappedPages {
    private static final Path MAPS = Path.of("/proc/self/maps");
    /** madvise's advice to reclaim the pages now (Linux 5.4); clean file pages are dropped, nothing is lost. */
    private static final int MADV_PAGEOUT = 21;
    private static final Optional<MethodHandle> MADVISE = Linker.nativeLinker().defaultLookup().find("madvise")
            .map(f -> Linker.nativeLinker().downcallHandle(f, FunctionDescriptor.of(ValueLayout.JAVA_INT,
                    ValueLayout.ADDRESS, ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT)));

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

    /**
     * Pages out what this process maps of {@code file}, or of the files under it where it is a folder, wherever
     * native code mapped it. ONNX Runtime maps the weights file a session is made from and keeps the mapping for the
     * session's life; the pages it read to repack weights stay resident though most are never read again
     * (MatMulNBits keeps the scales it copied into its packed weights): for a full-size FLUX.1 transformer in int4,
     * 1.4 GiB. The pages are reclaimed now (clean file pages, so nothing is lost), and one that is still in use is
     * read back from the file at its next use. Where there is no {@code /proc/self/maps} or madvise (not Linux),
     * nothing is done.
     *
     * @return the bytes of the mappings advised (mapped, not necessarily resident)
     */
    public static long pageOut(Path file) {
        if (MADVISE.isEmpty() || !Files.isReadable(MAPS)) return 0;
        String path;
        List<String> maps;
        try {
            path = file.toRealPath().toString();
            maps = Files.readAllLines(MAPS);
        } catch (IOException e) {
            return 0;
        }
        long advised = 0;
        for (String line : maps) {
            // start-end perms offset dev inode pathname, the pathname ending in " (deleted)" once the file is gone
            String[] fields = line.trim().split("\\s+", 6);
            if (fields.length < 6) continue;
            String mapped = fields[5].endsWith(" (deleted)") ? fields[5].substring(0, fields[5].length() - 10) : fields[5];
            if (!mapped.equals(path) && !mapped.startsWith(path + "/")) continue;
            String[] range = fields[0].split("-");
            long start = Long.parseUnsignedLong(range[0], 16);
            long length = Long.parseUnsignedLong(range[1], 16) - start;
            try {
                if ((int) MADVISE.get().invokeExact(MemorySegment.ofAddress(start), length, MADV_PAGEOUT) == 0) advised += length;
            } catch (Throwable e) {
                throw new IllegalStateException("madvise failed", e);
            }
        }
        return advised;
    }
}
