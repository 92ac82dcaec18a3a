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
import dev.easel.engine.tensor.FloatTensor;
import dev.easel.engine.tensor.LongTensor;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.LongBuffer;
import java.util.Arrays;
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
    }

    private final OrtSession session;
    private final long weightBytes;

    private OnnxModel(OrtSession session, long weightBytes) {
        this.session = session;
        this.weightBytes = weightBytes;
    }

    public static OnnxModel create(GraphBuilder graph, WeightProvider weights, RuntimeOptions options) {
        Path folder = null;
        try (OrtSession.SessionOptions so = new OrtSession.SessionOptions()) {
            folder = Files.createTempDirectory("easel-weights");
            Map<String, Long> offsets = writeWeights(graph, weights, folder.resolve(WEIGHTS_FILE));
            ModelProto model = pointAt(graph.build(), offsets);
            so.setIntraOpNumThreads(options.threads());
            so.setInterOpNumThreads(1);
            so.setOptimizationLevel(OrtSession.SessionOptions.OptLevel.ALL_OPT);
            so.addConfigEntry("session.disable_prepacking", Boolean.FALSE.equals(options.prepackWeights()) ? "1" : "0");
            so.addConfigEntry("session.model_external_initializers_file_folder_path", folder.toString());
            if (options.profileFolder() != null) {
                so.enableProfiling(options.profileFolder().resolve(model.getGraph().getName()).toString());
            }
            OrtSession session = ENV.createSession(model.toByteArray(), so);
            long bytes = graph.weights().values().stream().mapToLong(s -> FloatTensor.elementCount(s) * Float.BYTES).sum();
            return new OnnxModel(session, bytes);
        } catch (OrtException e) {
            throw new IllegalStateException("ONNX Runtime could not create the " + graph.build().getGraph().getName()
                    + " session: " + e.getMessage(), e);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write the converted weights to a scratch file", e);
        } finally {
            deleteQuietly(folder);
        }
    }

    private static final String WEIGHTS_FILE = "weights.f32";

    /** Writes every weight as fp32, each at an aligned offset; returns the offsets by name. */
    private static Map<String, Long> writeWeights(GraphBuilder graph, WeightProvider weights, Path file) throws IOException {
        Map<String, Long> offsets = new LinkedHashMap<>();
        try (FileChannel out = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            long at = 0;
            for (Map.Entry<String, long[]> w : graph.weights().entrySet()) {
                long expected = FloatTensor.elementCount(w.getValue()) * Float.BYTES;
                try (Arena arena = Arena.ofConfined()) {
                    ByteBuffer data = weights.float32(w.getKey(), arena);
                    if (data.remaining() != expected) {
                        throw new IllegalArgumentException("weight " + w.getKey() + " must hold " + expected
                                + " bytes for shape " + Arrays.toString(w.getValue()) + ", got " + data.remaining());
                    }
                    // ONNX external data is little-endian, as is every machine ONNX Runtime runs on.
                    data.order(ByteOrder.LITTLE_ENDIAN);
                    long position = at;
                    while (data.hasRemaining()) position += out.write(data, position);
                }
                offsets.put(w.getKey(), at);
                at += (expected + ALIGNMENT - 1) / ALIGNMENT * ALIGNMENT;
            }
        }
        return offsets;
    }

    /** The model with each weight declaration pointing at its offset in the scratch file. */
    private static ModelProto pointAt(ModelProto model, Map<String, Long> offsets) {
        ModelProto.Builder builder = model.toBuilder();
        GraphProto.Builder g = builder.getGraphBuilder();
        for (TensorProto.Builder t : g.getInitializerBuilderList()) {
            Long offset = offsets.get(t.getName());
            if (offset == null) continue;
            long length = FloatTensor.elementCount(t.getDimsList().stream().mapToLong(Long::longValue).toArray()) * Float.BYTES;
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
