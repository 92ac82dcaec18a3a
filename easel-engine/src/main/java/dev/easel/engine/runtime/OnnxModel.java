package dev.easel.engine.runtime;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OnnxTensorLike;
import ai.onnxruntime.OnnxValue;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import dev.easel.engine.graph.GraphBuilder;
import dev.easel.engine.tensor.FloatTensor;
import dev.easel.engine.tensor.LongTensor;

import java.lang.foreign.Arena;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.LongBuffer;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * One ONNX Runtime session over a graph from {@link GraphBuilder}. The graph declares its weights by
 * name and shape only; here each is converted to fp32 in a direct buffer and handed to ONNX Runtime by
 * name before the graph is optimised, so layout transforms (NCHWc convolutions, packed GEMM weights)
 * see the real values. ONNX Runtime keeps its own copy, so our buffers are freed as soon as the
 * session exists: a model's weights are held once, not twice.
 */
public final class OnnxModel implements AutoCloseable {
    private static final OrtEnvironment ENV = OrtEnvironment.getEnvironment();

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
        Map<String, OnnxTensorLike> tensors = new LinkedHashMap<>();
        long bytes = 0;
        try (Arena arena = Arena.ofShared();
             OrtSession.SessionOptions so = new OrtSession.SessionOptions()) {
            so.setIntraOpNumThreads(options.threads());
            so.setInterOpNumThreads(1);
            so.setOptimizationLevel(OrtSession.SessionOptions.OptLevel.ALL_OPT);
            so.addConfigEntry("session.disable_prepacking", options.prepackWeights() ? "0" : "1");
            if (options.cuda()) so.addCUDA(0);
            if (options.profileFolder() != null) {
                so.enableProfiling(options.profileFolder().resolve(graph.build().getGraph().getName()).toString());
            }
            for (Map.Entry<String, long[]> w : graph.weights().entrySet()) {
                ByteBuffer data = weights.float32(w.getKey(), arena);
                long expected = FloatTensor.elementCount(w.getValue()) * Float.BYTES;
                if (!data.isDirect() || data.remaining() != expected) {
                    throw new IllegalArgumentException("weight " + w.getKey() + " must be a direct buffer of " + expected
                            + " bytes for shape " + Arrays.toString(w.getValue()) + ", got " + data.remaining());
                }
                tensors.put(w.getKey(), OnnxTensor.createTensor(ENV, data.order(ByteOrder.nativeOrder()).asFloatBuffer(), w.getValue()));
                bytes += expected;
            }
            so.addExternalInitializers(tensors);
            OrtSession session = ENV.createSession(graph.build().toByteArray(), so);
            return new OnnxModel(session, bytes);
        } catch (OrtException e) {
            throw new IllegalStateException("ONNX Runtime could not create the " + graph.build().getGraph().getName()
                    + " session: " + e.getMessage(), e);
        } finally {
            for (OnnxTensorLike t : tensors.values()) ((OnnxTensor) t).close();
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
