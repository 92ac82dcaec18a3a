package dev.easel.engine.weights;

import dev.easel.engine.graph.GraphBuilder;
import dev.easel.engine.quant.BlockFormat;
import dev.easel.engine.runtime.OnnxModel;
import dev.easel.engine.runtime.RuntimeOptions;
import dev.easel.engine.runtime.WeightMode;
import dev.easel.engine.tensor.FloatTensor;
import dev.easel.engine.weights.gguf.GgufFile;
import dev.easel.engine.weights.gguf.GgufType;
import dev.easel.engine.weights.gguf.GgufWriter;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;
import static org.junit.jupiter.api.Assumptions.assumeFalse;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Reading a tensor of a mapped file leaves its pages out of the process's resident set: a load reads each tensor
 * (or range of rows) once, and a checkpoint's pages kept mapped would add its whole size to the load's peak RSS. So
 * do the pages of a file mapped by other code once {@link MappedPages#pageOut} is asked to drop them.
 */
class MappedPagesTest {
    private static final long ROWS = 4096;
    private static final long COLUMNS = 4096;
    /** What the reads may leave resident: a quarter of the tensor (unaligned edges, the header, other mappings). */
    private static final double KEPT_AT_MOST = 0.25;

    @TempDir
    Path temp;

    @Test
    void aSafetensorsTensorReadWholeOrByRowRangesLeavesNoPagesResident() {
        Path file = temp.resolve("w.safetensors");
        SafetensorsWriter.write(file, List.of(new SafetensorsWriter.Entry("w", DType.BF16, new long[]{ROWS, COLUMNS},
                TensorData.generated(DType.BF16, ROWS * COLUMNS, MappedPagesTest::ramp))));
        long bytes = ROWS * COLUMNS * DType.BF16.byteSize();
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            assertResidentGrowthSmall(bytes, () -> readAndDrop(a -> f.float32("w", a)));
            DerivedWeights rows = new DerivedWeights(f, "stacked", Map.of(
                    "first", new DerivedWeights.Rows("w", 0, ROWS / 2), "second", new DerivedWeights.Rows("w", ROWS / 2, ROWS / 2)));
            assertResidentGrowthSmall(bytes, () -> {
                readAndDrop(a -> rows.float32("first", a));
                readAndDrop(a -> rows.float32("second", a));
            });
        }
    }

    @Test
    void aGgufTensorDequantizedOrMappedToBlocksLeavesNoPagesResident() {
        Path file = temp.resolve("w.gguf");
        GgufWriter.write(file, Map.of(), List.of(
                new GgufWriter.Entry("f16", GgufType.F16, new long[]{ROWS, COLUMNS}, MappedPagesTest::ramp),
                new GgufWriter.Entry("q8", GgufType.Q8_0, new long[]{ROWS, COLUMNS}, MappedPagesTest::ramp)));
        try (GgufFile f = GgufFile.open(file)) {
            assertResidentGrowthSmall(ROWS * COLUMNS * 2, () -> readAndDrop(a -> f.float32("f16", a)));
            assertResidentGrowthSmall(ROWS * COLUMNS * 34 / 32, () -> readAndDrop(a -> f.quantized("q8", BlockFormat.INT8, a).orElseThrow()));
        }
    }

    /** A file mapped privately elsewhere (as ONNX Runtime maps a session's weights) and read: its pages are paged out. */
    @Test
    void pageOutDropsTheResidentPagesOfAnotherMappingOfTheFile() throws IOException {
        assumePageOutWorksHere();
        Path folder = Files.createDirectories(temp.resolve("weights"));
        Path file = folder.resolve("weights.f32");
        long bytes = ROWS * COLUMNS * Float.BYTES;
        try (FileChannel out = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            out.write(ByteBuffer.allocate(Math.toIntExact(bytes)));
        }
        try (Arena arena = Arena.ofConfined(); FileChannel in = FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            MemorySegment mapped = in.map(FileChannel.MapMode.PRIVATE, 0, bytes, arena);
            long before = residentFileBytes();
            long sum = 0;
            for (long at = 0; at < bytes; at += 4096) sum += mapped.get(ValueLayout.JAVA_BYTE, at);
            assertThat(residentFileBytes() - before).as("the read mapped the file's pages (sum %d)", sum).isGreaterThan(bytes / 2);

            assertThat(MappedPages.pageOut(folder)).as("bytes of the file's mappings advised").isGreaterThanOrEqualTo(bytes);
            assertThat(residentFileBytes() - before).as("file-backed resident memory after the page-out")
                    .isLessThan((long) (bytes * KEPT_AT_MOST));
            assertThat(mapped.get(ValueLayout.JAVA_BYTE, bytes - 1)).as("a page read again after the page-out").isZero();
        }
    }

    /**
     * ONNX Runtime maps a session's scratch file and reads the blocks and scales to repack them (int4 blocks computed
     * in int8 keep the scales they packed), then keeps the mapping: the pages it read are paged out once the session
     * exists (for a full-size FLUX.1 in int4, 1.4 GiB), and the layer computes what a session reading its weights
     * from the mapping at every run computes (to the rounding of their different kernels).
     */
    @Test
    void aQuantizedSessionLeavesItsScratchFilesPagesOutOfTheResidentSet() {
        assumePageOutWorksHere();
        int k = (int) COLUMNS, n = (int) ROWS;
        GraphBuilder g = new GraphBuilder("wide");
        g.output(g.quantizedLinear(g.floatInput("x", 1, "tokens", k), "fc", k, n, false, BlockFormat.INT4, 4), "y");
        ByteBuffer w = ByteBuffer.allocateDirect(n * k * Float.BYTES).order(ByteOrder.nativeOrder());
        for (int i = 0; i < n * k; i++) w.putFloat(i * Float.BYTES, (i % 251) / 251f - 0.5f);
        OnnxModel.WeightProvider weights = (name, arena) -> w.duplicate().order(ByteOrder.nativeOrder());
        float[] input = new float[2 * k];
        for (int i = 0; i < input.length; i++) input[i] = (i % 17) / 17f - 0.5f;
        FloatTensor x = new FloatTensor(new long[]{1, 2, k}, input);
        long scaleBytes = (long) n * k / 32 * Float.BYTES;
        RuntimeOptions int4 = RuntimeOptions.defaults().withThreads(2).withWeights(WeightMode.INT4);
        float[] expected;
        try (OnnxModel mapped = OnnxModel.create(g, weights, RuntimeOptions.defaults().withThreads(2).withPrepack(false))) {
            expected = mapped.runSingle(Map.of("x", x)).data();
        }
        try (OnnxModel first = OnnxModel.create(g, weights, int4)) {
            first.runSingle(Map.of("x", x)); // ONNX Runtime's own code for this, mapped once
        }
        long before = residentFileBytes();
        try (OnnxModel prepacked = OnnxModel.create(g, weights, int4)) {
            assertThat(residentFileBytes() - before).as("file-backed resident memory grown by a load that read %d bytes of scales",
                    scaleBytes).isLessThan((long) (scaleBytes * KEPT_AT_MOST));
            float[] y = prepacked.runSingle(Map.of("x", x)).data();
            float scale = 0;
            for (float v : expected) scale = Math.max(scale, Math.abs(v));
            for (int i = 0; i < y.length; i++) {
                assertThat(y[i]).as("output %d after the page-out", i).isCloseTo(expected[i], within(1e-2f * scale));
            }
        }
    }

    /** Skipped where mapped files are not file pages (a tmpfs temp folder) or madvise has no MADV_PAGEOUT (Linux 5.4). */
    private static void assumePageOutWorksHere() {
        try {
            String store = Files.getFileStore(Path.of(System.getProperty("java.io.tmpdir"))).type();
            assumeFalse(store.equals("tmpfs"), "the temp folder is on tmpfs: its mapped pages are shared memory, not file pages");
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
        String[] version = System.getProperty("os.version").split("[.-]");
        assumeTrue(System.getProperty("os.name").equals("Linux") && version.length >= 2
                        && Integer.parseInt(version[0]) * 1000 + Integer.parseInt(version[1]) >= 5004,
                "madvise(MADV_PAGEOUT) needs Linux 5.4 or later; this is " + System.getProperty("os.name") + " " + System.getProperty("os.version"));
    }

    private static void ramp(float[] chunk, int length) {
        for (int i = 0; i < length; i++) chunk[i] = (i % 251) / 251f;
    }

    /** The read's own output is freed with its arena, so only the file's pages could stay resident. */
    private static void readAndDrop(Consumer<Arena> read) {
        try (Arena arena = Arena.ofConfined()) {
            read.accept(arena);
        }
    }

    private static void assertResidentGrowthSmall(long fileBytes, Runnable reads) {
        long before = residentFileBytes();
        reads.run();
        long grown = residentFileBytes() - before;
        assertThat(grown).as("file-backed resident memory grown by reading %d bytes of a mapped file", fileBytes)
                .isLessThan((long) (fileBytes * KEPT_AT_MOST));
    }

    /** RssFile of /proc/self/status: pages of mapped files in this process's resident set. */
    private static long residentFileBytes() {
        Path status = Path.of("/proc/self/status");
        assumeTrue(Files.isReadable(status), "this system has no /proc/self/status to read resident memory from");
        try {
            for (String line : Files.readAllLines(status)) {
                if (line.startsWith("RssFile:")) return Long.parseLong(line.replaceAll("\\D+", "")) * 1024;
            }
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
        assumeTrue(false, "this system's /proc/self/status has no RssFile");
        return 0;
    }
}
