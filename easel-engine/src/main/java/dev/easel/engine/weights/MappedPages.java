package dev.easel.engine.weights;

import java.io.IOException;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Pages of a memory-mapped weights file that a load has read and will not read again. */
public final class MappedPages {
    private static final Path MAPS = Path.of("/proc/self/maps");
    /** A line of /proc/self/maps: start-end perms offset dev inode pathname (" (deleted)" once the file is gone). */
    private static final Pattern MAPPING = Pattern.compile("([0-9a-f]+)-([0-9a-f]+) \\S+ \\S+ \\S+ \\S+ +(.*?)(?: \\(deleted\\))?");
    /** madvise's advice to reclaim pages now (Linux 5.4): clean file pages leave the page cache too. */
    private static final int MADV_PAGEOUT = 21;

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
     * Pages out what this process maps of the files under {@code folder} (or of the file itself), wherever native
     * code mapped them: madvise(MADV_PAGEOUT), so the pages leave the resident set and, where clean, the page cache;
     * nothing is lost (a private mapping's written pages are anonymous and stay), and a page still in use is read
     * back from the file at its next use. For files no one will read again, as ONNX Runtime's mapping of a session's
     * scratch file once the weights are repacked. Best effort: where there is no /proc/self/maps or madvise (not
     * Linux, or a kernel before 5.4), nothing is done.
     *
     * @return the bytes of the mappings advised (mapped, not necessarily resident)
     */
    public static long pageOut(Path folder) {
        if (Madvise.HANDLE.isEmpty() || !Files.isReadable(MAPS)) return 0;
        String path;
        List<String> maps;
        try {
            path = folder.toRealPath().toString();
            // ISO-8859-1: any byte decodes, whatever another mapping's file name holds
            maps = Files.readAllLines(MAPS, StandardCharsets.ISO_8859_1);
        } catch (IOException e) {
            return 0;
        }
        long advised = 0;
        for (String line : maps) {
            Matcher m = MAPPING.matcher(line);
            if (!m.matches() || !(m.group(3).equals(path) || m.group(3).startsWith(path + "/"))) continue;
            long start = Long.parseUnsignedLong(m.group(1), 16);
            long length = Long.parseUnsignedLong(m.group(2), 16) - start;
            if (Madvise.call(start, length, MADV_PAGEOUT)) advised += length;
        }
        return advised;
    }

    /** madvise(2), looked up when first needed; absent where the platform has no native linker or no madvise. */
    private static final class Madvise {
        static final Optional<MethodHandle> HANDLE = lookUp();

        private static Optional<MethodHandle> lookUp() {
            try {
                Linker linker = Linker.nativeLinker();
                return linker.defaultLookup().find("madvise").map(f -> linker.downcallHandle(f,
                        FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT)));
            } catch (RuntimeException unavailable) {
                return Optional.empty(); // no native linker here, or native access not enabled
            }
        }

        /** Whether madvise took the advice; a failure (an old kernel, a range gone meanwhile) is only a missed drop. */
        static boolean call(long start, long length, int advice) {
            try {
                return (int) HANDLE.orElseThrow().invokeExact(MemorySegment.ofAddress(start), length, advice) == 0;
            } catch (Throwable e) {
                return false;
            }
        }
    }
}
