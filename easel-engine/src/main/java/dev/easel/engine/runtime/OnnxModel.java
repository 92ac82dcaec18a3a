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
import dev.easel.engine.quant.QuantizedWeight;
import dev.easel.engine.tensor.FloatTensor;
import dev.easel.engine.tensor.LongTensor;
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

    /** Supplies a weight as fp32 in a direct, native-order buffer allocated in the given arena. */
    @FunctionalInterface
    public interface WeightProvider {
        ByteBuffer float32(String name, Arena arena);

        /**
         * A [rows, columns] weight the graph binds block-quantized ({@link GraphBuilder#quantizedWeight}). By default
         * it is quantized here from {@link #float32}: one tensor at a time, so the whole model is never held as fp32.
         */
        default QuantizedWeight quantized(String name, long rows, long columns, BlockFormat format, Arena arena) {
            ByteBuffer data = float32(name, arena);
            if (data.remaining() != rows * columns * Float.BYTES) {
                throw new IllegalArgumentException("weight " + name + " must hold " + rows * columns * Float.BYTES
                        + " bytes for shape [" + rows + ", " + columns + "], got " + data.remaining());
            }
            return BlockQuantizer.quantize(MemorySegment.ofBuffer(data), rows, columns, format, arena);
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
        return create(graph, weights, options, null, null);
    }

    /**
     * As {@link #create(GraphBuilder, WeightProvider, RuntimeOptions)}, with the scratch file in {@code scratchParent}
     * (null: the temp folder) and, when {@code optimizedModel} is not null, ONNX Runtime's optimized model written
     * there with every initializer (after optimisation: fused, NCHWc-reordered) in {@link #optimizedDataFile}
     * beside it, for {@link #openOptimized} to load without optimizing again ({@link PreparedModelCache}).
     */
    static OnnxModel create(GraphBuilder graph, WeightProvider weights, RuntimeOptions options, Path scratchParent, Path optimizedModel) {
        Path folder = null;
        ModelProto declared = graph.build();
        try (OrtSession.SessionOptions so = sessionOptions(options, OrtSession.SessionOptions.OptLevel.ALL_OPT)) {
            folder = scratchParent == null ? Files.createTempDirectory("easel-weights")
                    : Files.createTempDirectory(scratchParent, "easel-weights");
            Map<String, Long> offsets = new LinkedHashMap<>();
            long bytes = writeWeights(graph, declared, weights, folder.resolve(WEIGHTS_FILE), offsets, options.threads());
            ModelProto model = pointAt(declared, offsets);
            so.addConfigEntry("session.model_external_initializers_file_folder_path", folder.toString());
            if (optimizedModel != null) {
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
            if (options.profileFolder() != null) {
                so.enableProfiling(options.profileFolder().resolve(model.getGraph().getName()).toString());
            }
            OrtSession session = ENV.createSession(model.toByteArray(), so);
            return new OnnxModel(session, bytes);
        } catch (OrtException e) {
            throw new IllegalStateException("ONNX Runtime could not create the " + declared.getGraph().getName()
                    + " session: " + e.getMessage(), e);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write the converted weights to a scratch file", e);
        } finally {
            deleteQuietly(folder);
        }
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
            return new OnnxModel(ENV.createSession(optimizedModel.toString(), so), weightBytes);
        } catch (OrtException e) {
            throw new IllegalStateException("ONNX Runtime could not load the prepared model " + optimizedModel + ": " + e.getMessage(), e);
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
     * Writes every weight, each at an aligned offset: fp32 ones as fp32, block-quantized ones as their blocks and
     * scales. Offsets follow the graph's declarations (so they are known before any weight is converted), and
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
        Map<String, BlockFormat> quantized = graph.quantizedWeights();
        Map<String, long[]> shapes = graph.weights();
        List<String> names = new ArrayList<>();
        for (TensorProto t : declared.getGraph().getInitializerList()) {
            if (shapes.containsKey(t.getName())) names.add(t.getName());
            else if (t.getName().endsWith(GraphBuilder.BLOCKS_SUFFIX)) names.add(t.getName().substring(0, t.getName().length() - GraphBuilder.BLOCKS_SUFFIX.length()));
        }
        try (FileChannel out = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            ParallelTasks.run(names, Math.max(1, threads), name -> {
                try (Arena arena = Arena.ofConfined()) {
                    writeWeight(name, shapes.get(name), quantized.get(name), weights, arena, out, offsets);
                }
            });
        }
        return total;
    }

    private static void writeWeight(String name, long[] shape, BlockFormat format, WeightProvider weights, Arena arena,
                                    FileChannel out, Map<String, Long> offsets) {
        if (format != null) {
            QuantizedWeight q = weights.quantized(name, shape[0], shape[1], format, arena);
            if (q.rows() != shape[0] || q.columns() != shape[1] || !q.format().equals(format)) {
                throw new IllegalArgumentException("weight " + name + " must be [" + shape[0] + ", " + shape[1] + "] in "
                        + format + ", got [" + q.rows() + ", " + q.columns() + "] in " + q.format());
            }
            writeAt(out, offsets.get(name + GraphBuilder.BLOCKS_SUFFIX), q.blocks().asByteBuffer());
            writeAt(out, offsets.get(name + GraphBuilder.SCALES_SUFFIX), q.scales().asByteBuffer());
            return;
        }
        long expected = FloatTensor.elementCount(shape) * Float.BYTES;
        ByteBuffer data = weights.float32(name, arena);
        if (data.remaining() != expected) {
            throw new IllegalArgumentException("weight " + name + " must hold " + expected
                    + " bytes for shape " + Arrays.toString(shape) + ", got " + data.remaining());
        }
        // ONNX external data is little-endian, as is every machine ONNX Runtime runs on.
        writeAt(out, offsets.get(name), data.order(ByteOrder.LITTLE_ENDIAN));
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
            long elementSize = t.getDataType() == TensorProto.DataType.UINT8_VALUE ? 1 : Float.BYTES;
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
