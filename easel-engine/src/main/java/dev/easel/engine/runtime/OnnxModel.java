package dev.easel.engine.runtime;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OnnxValue;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import dev.easel.engine.graph.GraphBuilder;
import dev.easel.engine.onnx.proto.Onnx.GraphProto;
import dev.easel.engine.onnx.proto.Onnx.ModelProto;
import dev.easel.engine.onnx.proto.Onnx.StringStringEntryProto;
import dev.easel.engine.onnx.proto.Onnx.TensorProto;
import dev.easel.engine.quant.BlockFormat;
import dev.easel.engine.quant.BlockQuantizer;
import dev.easel.engine.quant.ChannelQuantizedWeight;
import dev.easel.engine.quant.QuantizedWeight;
import dev.easel.engine.tensor.FloatTensor;
import dev.easel.engine.tensor.LongTensor;
import dev.easel.engine.weights.MappedPages;
import dev.easel.engine.weights.WeightSource;
import dev.easel.engine.weights.WeightsException;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.LongBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;

/**
 * One ONNX Runtime session over a graph from {@link GraphBuilder}. The graph declares its weights by
 * name and shape only. Here they are converted to fp32 one at a time into a scratch file, at page-aligned
 * offsets, and the graph's declarations point into it: ONNX Runtime memory-maps that file instead of
 * copying, its graph optimisations (NCHWc convolutions, packed GEMM weights) read the real values, and
 * once the session exists the file is deleted (the mapping lives on until ONNX Runtime lets it go).
 * Loading so holds each weight once plus whatever ONNX Runtime repacks, never an extra copy of the model.
 */
public final class OnnxModel implements AutoCloseable {
    private static final OrtEnvironment ENV = OrtEnvironment.getEnvironment();
    /** Offsets are multiples of this so ONNX Runtime can map the data (64 KiB covers every page size). */
    private static final long ALIGNMENT = 64 * 1024;
    /** How often {@link #createSession} pages out what ONNX Runtime has read: often enough not to pile up (T5-XXL
     * packs about 0.5 GiB of scales a second), seldom enough that reading /proc/self/maps costs nothing. */
    private static final long PAGE_OUT_PERIOD_SECONDS = 1;
    /** One daemon thread for {@link #createSession}'s page-outs. */
    private static final ScheduledThreadPoolExecutor PAGE_OUT = new ScheduledThreadPoolExecutor(1, r -> {
        Thread t = new Thread(r, "easel-page-out");
        t.setDaemon(true);
        return t;
    });

    static {
        PAGE_OUT.setRemoveOnCancelPolicy(true);
    }

    /** Supplies a weight as fp32 in a direct, native-order buffer allocated in the given arena. */
    @FunctionalInterface
    public interface WeightProvider {
        ByteBuffer float32(String name, Arena arena);

        /**
         * A [rows, columns] weight the graph binds block-quantized ({@link GraphBuilder#quantizedWeight}). By default
         * it is quantized here from {@link #float32}: one tensor at a time, so the whole model is never held as fp32.
         */
        default QuantizedWeight quantized(String name, long rows, long columns, BlockFormat format, Arena arena) {
            return BlockQuantizer.quantize(matrix(name, rows, columns, arena), rows, columns, format, arena);
        }

        /**
         * A [rows, columns] weight the graph binds channel-quantized ({@link GraphBuilder#channelQuantizedWeight}),
         * quantized here from {@link #float32} one tensor at a time (stored blocks never map onto one scale per row).
         */
        default ChannelQuantizedWeight channelQuantized(String name, long rows, long columns, Arena arena) {
            return ChannelQuantizedWeight.quantize(matrix(name, rows, columns, arena), rows, columns, arena);
        }

        /** The weight as a [rows, columns] fp32 matrix, for quantizing. */
        private MemorySegment matrix(String name, long rows, long columns, Arena arena) {
            ByteBuffer data = float32(name, arena);
            if (data.remaining() != rows * columns * Float.BYTES) {
                throw new IllegalArgumentException("weight " + name + " must hold " + rows * columns * Float.BYTES
                        + " bytes for shape [" + rows + ", " + columns + "], got " + data.remaining());
            }
            return MemorySegment.ofBuffer(data);
        }

        /**
         * The weights of {@code source}, each checked against the shape the graph declares (a mismatch names the
         * file and tensor). Block-quantized weights come as stored where the source's blocks map onto the format
         * without rounding (GGUF Q8_0, Q4_0), else they are quantized from fp32.
         */
        static WeightProvider of(WeightSource source, GraphBuilder graph) {
            Map<String, long[]> shapes = graph.weights();
            return new WeightProvider() {
                @Override
                public ByteBuffer float32(String name, Arena arena) {
                    checkShape(name);
                    return source.float32(name, arena);
                }

                @Override
                public QuantizedWeight quantized(String name, long rows, long columns, BlockFormat format, Arena arena) {
                    checkShape(name);
                    return source.quantized(name, format, arena)
                            .orElseGet(() -> WeightProvider.super.quantized(name, rows, columns, format, arena));
                }

                private void checkShape(String name) {
                    long[] stored = source.info(name).shape();
                    long[] wanted = shapes.get(name);
                    if (wanted != null && !Arrays.equals(stored, wanted)) {
                        throw WeightsException.forTensor(source.location(), name, "has shape " + Arrays.toString(stored)
                                + ", but the model needs " + Arrays.toString(wanted));
                    }
                }
            };
        }
    }

    private final OrtSession session;
    private final long weightBytes;

    private OnnxModel(OrtSession session, long weightBytes) {
        this.session = session;
        this.weightBytes = weightBytes;
    }

    public static OnnxModel create(GraphBuilder graph, WeightProvider weights, RuntimeOptions options) {
        try (ConvertedWeights converted = convert(graph, weights, options, null)) {
            return open(converted, options, null);
        }
    }

    /**
     * A graph's weights converted into a scratch file, and the graph's model with each weight pointing at its place
     * there: what a session is made from. Closing deletes the file (sessions made from it keep their mappings).
     */
    static final class ConvertedWeights implements AutoCloseable {
        private final Path folder;
        private final ModelProto model;
        private final long bytes;

        private ConvertedWeights(Path folder, ModelProto model, long bytes) {
            this.folder = folder;
            this.model = model;
            this.bytes = bytes;
        }

        String graphName() {
            return model.getGraph().getName();
        }

        /** The converted weights' bytes. */
        long bytes() {
            return bytes;
        }

        @Override
        public void close() {
            deleteQuietly(folder);
        }
    }

    /** Converts the graph's weights into a scratch file in {@code scratchParent} (null: the temp folder). */
    static ConvertedWeights convert(GraphBuilder graph, WeightProvider weights, RuntimeOptions options, Path scratchParent) {
        ModelProto declared = graph.build();
        Path folder = null;
        try {
            folder = scratchParent == null ? Files.createTempDirectory("easel-weights")
                    : Files.createTempDirectory(scratchParent, "easel-weights");
            Map<String, Long> offsets = new LinkedHashMap<>();
            long bytes = writeWeights(graph, declared, weights, folder.resolve(WEIGHTS_FILE), offsets, options.threads());
            return new ConvertedWeights(folder, pointAt(declared, offsets), bytes);
        } catch (IOException e) {
            deleteQuietly(folder);
            throw new UncheckedIOException("cannot write the converted weights to a scratch file", e);
        } catch (RuntimeException e) {
            deleteQuietly(folder);
            throw e;
        }
    }

    /**
     * A session over converted weights, optimized as {@code options} say. When {@code optimizedModel} is not null,
     * ONNX Runtime also writes its optimized model there with every initializer (after optimisation: fused,
     * NCHWc-reordered) in {@link #optimizedDataFile} beside it, for {@link #openOptimized} to load without optimizing
     * again ({@link PreparedModelCache}).
     */
    static OnnxModel open(ConvertedWeights converted, RuntimeOptions options, Path optimizedModel) {
        try (OrtSession.SessionOptions so = sessionOptions(options, OrtSession.SessionOptions.OptLevel.ALL_OPT)) {
            so.addConfigEntry("session.model_external_initializers_file_folder_path", converted.folder.toString());
            if (optimizedModel != null) writeOptimizedModel(so, optimizedModel);
            if (options.profileFolder() != null) {
                so.enableProfiling(options.profileFolder().resolve(converted.graphName()).toString());
            }
            return new OnnxModel(createSession(options, converted.folder, () -> ENV.createSession(converted.model.toByteArray(), so)),
                    converted.bytes);
        } catch (OrtException e) {
            throw new IllegalStateException("ONNX Runtime could not create the " + converted.graphName()
                    + " session: " + e.getMessage(), e);
        }
    }

    /**
     * Writes ONNX Runtime's optimized model of converted weights, as {@link #open} with an optimized model does,
     * from a session made only for that: one thread, no prepacking (the saved model does not hold prepacked weights,
     * so it is the same file), closed at once. For writing behind a session already in use.
     */
    static void writeOptimized(ConvertedWeights converted, RuntimeOptions options, Path optimizedModel) {
        // No weight mode: the graph is built already, and quantized options refuse to turn prepacking off.
        RuntimeOptions writing = options.withWeights(null).withThreads(1).withPrepack(false).withProfiling(null);
        try (OnnxModel writer = open(converted, writing, optimizedModel)) {
            // the file is written while the session is made
        }
    }

    private static void writeOptimizedModel(OrtSession.SessionOptions so, Path optimizedModel) throws OrtException {
        so.setOptimizedModelFilePath(optimizedModel.toString());
        so.addConfigEntry("session.optimized_model_external_initializers_file_name", optimizedDataFile(optimizedModel).getFileName().toString());
        // every weight goes to the data file (mapped when loaded); only small constants stay in the proto
        so.addConfigEntry("session.optimized_model_external_initializers_min_size_in_bytes", "1024");
        // Not "session.save_external_prepacked_constant_initializers": loading ORT 1.29's saved prepacked
        // weights crashed running the CLIP text encoder (SIGSEGV in the CPU provider), so weights are repacked
        // on load (the UNet of SD 1.5: ~4 s more than with them saved, measured under load).
        // it warns that the model suits this CPU only: the cache keys entries by CPU (CpuIdentity)
        so.setSessionLogLevel(ai.onnxruntime.OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR);
    }

    /**
     * A session over an optimized model {@link #create(GraphBuilder, WeightProvider, RuntimeOptions, Path, Path)} wrote,
     * with the same options: nothing is optimized again, and its initializers (prepacked ones too) are mapped from
     * the data file, not copied.
     */
    static OnnxModel openOptimized(Path optimizedModel, RuntimeOptions options, long weightBytes) {
        try (OrtSession.SessionOptions so = sessionOptions(options, OrtSession.SessionOptions.OptLevel.NO_OPT)) {
            if (options.profileFolder() != null) {
                so.enableProfiling(options.profileFolder().resolve(optimizedModel.getParent().getFileName().toString()).toString());
            }
            // The pages it maps stay: they are the cache's, and from the page cache they serve the next load too.
            return new OnnxModel(ENV.createSession(optimizedModel.toString(), so), weightBytes);
        } catch (OrtException e) {
            throw new IllegalStateException("ONNX Runtime could not load the prepared model " + optimizedModel + ": " + e.getMessage(), e);
        }
    }

    /** ONNX Runtime's session construction, handed to {@link #createSession}. */
    @FunctionalInterface
    private interface SessionMaker {
        OrtSession make() throws OrtException;
    }

    /**
     * Makes a session over weights mapped from the scratch file in {@code scratchFolder}. With quantized weights
     * (always repacked), ONNX Runtime reads the integers and scales only to repack them, and keeps the mapping with the
     * pages it read (MatMulNBits keeps the scales it copied): they are paged out ({@link MappedPages#pageOut}) every
     * {@link #PAGE_OUT_PERIOD_SECONDS} while it works and once it is done, so that they do not pile up beside the
     * packed copies (a full-size FLUX.1 int4 transformer's scales: 1.4 GiB; T5-XXL's: 0.6 GiB at the peak of a
     * generation). A page read again later in the same construction comes back from the disk; so do the pages the
     * prepared-model cache's writer reads after a quantized first load. fp32 sessions are left as they were: some
     * read their mapped weights at every run, and memory is not what they are short of.
     */
    private static OrtSession createSession(RuntimeOptions options, Path scratchFolder, SessionMaker maker) throws OrtException {
        if (!options.weightMode().quantized()) return maker.make();
        ScheduledFuture<?> pagingOut = PAGE_OUT.scheduleWithFixedDelay(() -> MappedPages.pageOut(scratchFolder),
                PAGE_OUT_PERIOD_SECONDS, PAGE_OUT_PERIOD_SECONDS, TimeUnit.SECONDS);
        try {
            return maker.make();
        } finally {
            pagingOut.cancel(false);
            MappedPages.pageOut(scratchFolder);
        }
    }

    /** The data file of an optimized model written by {@link #create(GraphBuilder, WeightProvider, RuntimeOptions, Path, Path)}. */
    static Path optimizedDataFile(Path optimizedModel) {
        return optimizedModel.resolveSibling(optimizedModel.getFileName() + ".data");
    }

    /** The ONNX Runtime version sessions are made with. */
    static String runtimeVersion() {
        return ENV.getVersion();
    }

    /** What the session options set that shapes an optimized model, for {@link PreparedModelCache}'s key. */
    static String optimizedModelOptions(RuntimeOptions options) {
        return "opt=ALL_OPT,prepack=" + !Boolean.FALSE.equals(options.prepackWeights());
    }

    private static OrtSession.SessionOptions sessionOptions(RuntimeOptions options, OrtSession.SessionOptions.OptLevel level) throws OrtException {
        OrtSession.SessionOptions so = new OrtSession.SessionOptions();
        try {
            so.setIntraOpNumThreads(options.threads());
            so.setInterOpNumThreads(1);
            so.setOptimizationLevel(level);
            so.addConfigEntry("session.disable_prepacking", Boolean.FALSE.equals(options.prepackWeights()) ? "1" : "0");
            if (Boolean.FALSE.equals(options.activationArena())) so.setCPUArenaAllocator(false);
            return so;
        } catch (OrtException | RuntimeException e) {
            so.close();
            throw e;
        }
    }

    private static final String WEIGHTS_FILE = "weights.f32";

    /**
     * Writes every weight, each at an aligned offset: fp32 ones as fp32, quantized ones as their integers (blocks, or
     * channel-quantized int8) and scales, and the weights of a stack ({@link GraphBuilder#stacks}) each into its rows of the stack's initializer.
     * Offsets follow the graph's declarations (so they are known before any weight is converted), and
     * {@code threads} weights are converted at once, each written at its own offset. Fills {@code offsets} by
     * initializer name; returns the bytes written.
     */
    private static long writeWeights(GraphBuilder graph, ModelProto declared, WeightProvider weights, Path file,
                                     Map<String, Long> offsets, int threads) throws IOException {
        long total = 0;
        long at = 0;
        for (TensorProto t : declared.getGraph().getInitializerList()) {
            if (t.getDataLocation() != TensorProto.DataLocation.EXTERNAL) continue;
            offsets.put(t.getName(), at);
            long length = declaredLength(t);
            total += length;
            at += (length + ALIGNMENT - 1) / ALIGNMENT * ALIGNMENT;
        }
        List<Placement> placements = placements(graph, declared, offsets);
        try (FileChannel out = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            ParallelTasks.run(placements, Math.max(1, threads), p -> {
                try (Arena arena = Arena.ofConfined()) {
                    writeWeight(p, weights, arena, out);
                }
            });
        }
        return total;
    }

    /**
     * Where one weight's bytes go: fp32 data at {@code at}; or, quantized ({@code format} not null, or {@code channel}),
     * its integers at {@code at} and scales at {@code scalesAt}.
     */
    private record Placement(String name, long[] shape, BlockFormat format, boolean channel, long at, long scalesAt) {
    }

    /** Every weight of the graph with its place in the scratch file, in declaration order. */
    private static List<Placement> placements(GraphBuilder graph, ModelProto declared, Map<String, Long> offsets) {
        Map<String, BlockFormat> quantized = graph.quantizedWeights();
        java.util.Set<String> channel = graph.channelQuantizedWeights();
        Map<String, long[]> shapes = graph.weights();
        Map<String, List<String>> stacks = graph.stacks();
        List<Placement> placements = new ArrayList<>();
        for (TensorProto t : declared.getGraph().getInitializerList()) {
            String name = t.getName();
            if (name.endsWith(GraphBuilder.SCALES_SUFFIX)) continue; // placed with its integers
            String suffix = name.endsWith(GraphBuilder.BLOCKS_SUFFIX) ? GraphBuilder.BLOCKS_SUFFIX
                    : name.endsWith(GraphBuilder.INT8_SUFFIX) ? GraphBuilder.INT8_SUFFIX : "";
            String weight = name.substring(0, name.length() - suffix.length());
            List<String> parts = stacks.getOrDefault(weight, shapes.containsKey(weight) ? List.of(weight) : List.of());
            long at = offsets.getOrDefault(name, 0L);
            long scalesAt = suffix.isEmpty() ? -1 : offsets.get(weight + GraphBuilder.SCALES_SUFFIX);
            for (String part : parts) {
                long[] shape = shapes.get(part);
                BlockFormat format = quantized.get(part);
                placements.add(new Placement(part, shape, format, channel.contains(part), at, scalesAt));
                if (format == null) {
                    // fp32 (a channel-quantized weight is never stacked: no part follows it)
                    at += FloatTensor.elementCount(shape) * Float.BYTES;
                } else {
                    long blockCount = shape[0] * format.blocksPerRow(shape[1]);
                    at += blockCount * format.blobSize();
                    scalesAt += blockCount * Float.BYTES;
                }
            }
        }
        return placements;
    }

    private static void writeWeight(Placement p, WeightProvider weights, Arena arena, FileChannel out) {
        String name = p.name();
        long[] shape = p.shape();
        BlockFormat format = p.format();
        if (format != null) {
            QuantizedWeight q = weights.quantized(name, shape[0], shape[1], format, arena);
            if (q.rows() != shape[0] || q.columns() != shape[1] || !q.format().equals(format)) {
                throw new IllegalArgumentException("weight " + name + " must be [" + shape[0] + ", " + shape[1] + "] in "
                        + format + ", got [" + q.rows() + ", " + q.columns() + "] in " + q.format());
            }
            writeAt(out, p.at(), q.blocks().asByteBuffer());
            writeAt(out, p.scalesAt(), q.scales().asByteBuffer());
            return;
        }
        if (p.channel()) {
            ChannelQuantizedWeight q = weights.channelQuantized(name, shape[0], shape[1], arena);
            if (q.rows() != shape[0] || q.columns() != shape[1]) {
                throw new IllegalArgumentException("weight " + name + " must be [" + shape[0] + ", " + shape[1]
                        + "], got [" + q.rows() + ", " + q.columns() + "]");
            }
            writeAt(out, p.at(), q.values().asByteBuffer());
            writeAt(out, p.scalesAt(), q.scales().asByteBuffer());
            return;
        }
        long expected = FloatTensor.elementCount(shape) * Float.BYTES;
        ByteBuffer data = weights.float32(name, arena);
        if (data.remaining() != expected) {
            throw new IllegalArgumentException("weight " + name + " must hold " + expected
                    + " bytes for shape " + Arrays.toString(shape) + ", got " + data.remaining());
        }
        // ONNX external data is little-endian, as is every machine ONNX Runtime runs on.
        writeAt(out, p.at(), data.order(ByteOrder.LITTLE_ENDIAN));
    }

    private static long declaredLength(TensorProto t) {
        for (StringStringEntryProto e : t.getExternalDataList()) {
            if (e.getKey().equals("length")) return Long.parseLong(e.getValue());
        }
        throw new IllegalStateException("weight " + t.getName() + " is declared without a length");
    }

    /** Writes one initializer's bytes at its offset (positional writes: several threads share the channel). */
    private static void writeAt(FileChannel out, long position, ByteBuffer data) {
        try {
            while (data.hasRemaining()) position += out.write(data, position);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write the converted weights to a scratch file", e);
        }
    }

    /** The model with each weight declaration pointing at its offset in the scratch file. */
    private static ModelProto pointAt(ModelProto model, Map<String, Long> offsets) {
        ModelProto.Builder builder = model.toBuilder();
        GraphProto.Builder g = builder.getGraphBuilder();
        for (TensorProto.Builder t : g.getInitializerBuilderList()) {
            Long offset = offsets.get(t.getName());
            if (offset == null) continue;
            long elementSize = t.getDataType() == TensorProto.DataType.UINT8_VALUE || t.getDataType() == TensorProto.DataType.INT8_VALUE
                    ? 1 : Float.BYTES;
            long length = FloatTensor.elementCount(t.getDimsList().stream().mapToLong(Long::longValue).toArray()) * elementSize;
            t.clearExternalData()
                    .addExternalData(StringStringEntryProto.newBuilder().setKey("location").setValue(WEIGHTS_FILE))
                    .addExternalData(StringStringEntryProto.newBuilder().setKey("offset").setValue(Long.toString(offset)))
                    .addExternalData(StringStringEntryProto.newBuilder().setKey("length").setValue(Long.toString(length)));
        }
        return builder.build();
    }

    private static void deleteQuietly(Path folder) {
        if (folder == null) return;
        try {
            Files.deleteIfExists(folder.resolve(WEIGHTS_FILE));
            Files.deleteIfExists(folder);
        } catch (IOException ignored) {
            // a scratch file in the temp folder; nothing depends on its removal
        }
    }

    /** Runs the graph; inputs are {@link FloatTensor} or {@link LongTensor} by input name. */
    public Map<String, FloatTensor> run(Map<String, ?> inputs) {
        Map<String, OnnxTensor> feeds = new LinkedHashMap<>();
        try {
            for (Map.Entry<String, ?> in : inputs.entrySet()) {
                feeds.put(in.getKey(), switch (in.getValue()) {
                    case FloatTensor f -> OnnxTensor.createTensor(ENV, FloatBuffer.wrap(f.data()), f.shape());
                    case LongTensor l -> OnnxTensor.createTensor(ENV, LongBuffer.wrap(l.data()), l.shape());
                    default -> throw new IllegalArgumentException("unsupported input type for " + in.getKey());
                });
            }
            try (OrtSession.Result result = session.run(feeds)) {
                Map<String, FloatTensor> out = new LinkedHashMap<>();
                for (Map.Entry<String, OnnxValue> e : result) {
                    OnnxTensor t = (OnnxTensor) e.getValue();
                    FloatBuffer fb = t.getFloatBuffer();
                    float[] data = new float[fb.remaining()];
                    fb.get(data);
                    out.put(e.getKey(), new FloatTensor(t.getInfo().getShape(), data));
                }
                return out;
            }
        } catch (OrtException e) {
            throw new IllegalStateException("ONNX Runtime failed: " + e.getMessage(), e);
        } finally {
            feeds.values().forEach(OnnxTensor::close);
        }
    }

    /** Runs a graph with one output and returns it. */
    public FloatTensor runSingle(Map<String, ?> inputs) {
        return run(inputs).values().iterator().next();
    }

    /** Ends profiling (sessions created with a profile folder) and returns the profile's JSON file. */
    public java.nio.file.Path endProfiling() {
        try {
            return java.nio.file.Path.of(session.endProfiling());
        } catch (OrtException e) {
            throw new IllegalStateException("ONNX Runtime profiling failed: " + e.getMessage(), e);
        }
    }

    public long weightBytes() {
        return weightBytes;
    }

    @Override
    public void close() {
        try {
            session.close();
        } catch (OrtException e) {
            throw new IllegalStateException(e);
        }
    }
}
