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
    private static final Path SMAPS = Path.of("/proc/self/smaps");
    /** madvise's advice to drop pages from the resident set; a later read maps them again, from the file. */
    private static final int MADV_DONTNEED = 4;
    /** madvise's advice to reclaim pages now (Linux 5.4): clean file pages leave the page cache too. */
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
     * native code mapped it: madvise(MADV_PAGEOUT), so the pages leave the resident set and the page cache (clean
     * file pages: nothing is lost, and a page still in use is read back from the file at its next use). For a file
     * no one will read again, as ONNX Runtime's mapping of a session's scratch file once the weights are repacked.
     *
     * @return the bytes of the mappings advised (mapped, not necessarily resident)
     */
    public static long pageOut(Path file) {
        return advise(file, MADV_PAGEOUT);
    }

    /**
     * Drops what this process maps of {@code file} from its resident set, leaving the pages in the page cache for the
     * next reader: madvise(MADV_DONTNEED), on the mappings that hold no private copy of a page (that would be lost;
     * ONNX Runtime maps its weights writable but does not write them). For a file that will be read again, as the
     * prepared-model cache's entries.
     *
     * @return the bytes of the mappings advised
     */
    public static long unmapResident(Path file) {
        return advise(file, MADV_DONTNEED);
    }

    /** madvise on every mapping of {@code file} (DONTNEED only where it has no anonymous pages); 0 where not Linux. */
    private static long advise(Path file, int advice) {
        if (MADVISE.isEmpty() || !Files.isReadable(SMAPS)) return 0;
        String path;
        List<String> smaps;
        try {
            path = file.toRealPath().toString();
            smaps = Files.readAllLines(SMAPS);
        } catch (IOException e) {
            return 0;
        }
        long advised = 0;
        for (int i = 0; i < smaps.size(); i++) {
            // a mapping's line: start-end perms offset dev inode pathname (" (deleted)" once the file is gone),
            // then its "Field: value kB" lines
            String[] fields = smaps.get(i).trim().split("\\s+", 6);
            if (fields.length < 6 || !fields[0].matches("[0-9a-f]+-[0-9a-f]+")) continue;
            String mapped = fields[5].endsWith(" (deleted)") ? fields[5].substring(0, fields[5].length() - 10) : fields[5];
            if (!mapped.equals(path) && !mapped.startsWith(path + "/")) continue;
            if (advice == MADV_DONTNEED && anonymousKb(smaps, i + 1) != 0) continue;
            String[] range = fields[0].split("-");
            long start = Long.parseUnsignedLong(range[0], 16);
            long length = Long.parseUnsignedLong(range[1], 16) - start;
            try {
                if ((int) MADVISE.get().invokeExact(MemorySegment.ofAddress(start), length, advice) == 0) advised += length;
            } catch (Throwable e) {
                throw new IllegalStateException("madvise failed", e);
            }
        }
        return advised;
    }

    /** The "Anonymous:" field of the mapping whose fields start at line {@code from}; -1 (not known) without one. */
    private static long anonymousKb(List<String> smaps, int from) {
        for (int i = from; i < smaps.size() && !smaps.get(i).matches("^[0-9a-f]+-[0-9a-f]+ .*"); i++) {
            if (smaps.get(i).startsWith("Anonymous:")) return Long.parseLong(smaps.get(i).replaceAll("\\D+", ""));
        }
        return -1;
    }
}
