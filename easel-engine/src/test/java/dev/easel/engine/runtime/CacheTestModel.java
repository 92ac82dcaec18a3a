package dev.easel.engine.runtime;

import dev.easel.engine.graph.GraphBuilder;
import dev.easel.engine.graph.Value;
import dev.easel.engine.quant.BlockFormat;
import dev.easel.engine.tensor.FloatTensor;
import dev.easel.engine.weights.DType;
import dev.easel.engine.weights.SafetensorsFile;
import dev.easel.engine.weights.SafetensorsWriter;
import dev.easel.engine.weights.TensorData;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * A small model for the cache tests: a convolution and a linear layer (both kinds of weight ONNX Runtime rewrites:
 * NCHWc-reordered and prepacked), its weights in an fp16 safetensors file.
 */
final class CacheTestModel {
    static final long CHANNELS = 8;
    static final long HIDDEN = 32;

    private CacheTestModel() {
    }

    /** The variant whose linear layer is int8 MatMulNBits (int8 compute), quantized at load. */
    static final int QUANTIZED = 2;
    /** The variant whose linear layer is w8a8 (int8 per channel, the integer GEMM), quantized at load. */
    static final int W8A8 = 3;

    /** The graph; {@code variant} changes its structure (another builder version). */
    static GraphBuilder graph(int variant) {
        GraphBuilder g = new GraphBuilder("cache_test");
        Value x = g.floatInput("x", 1, CHANNELS, 8, 8);
        Value conv = g.conv2d(x, "conv", CHANNELS, HIDDEN, 3, 1, 1);
        Value tokens = g.transpose(g.reshape(conv, 1, HIDDEN, 64), 0, 2, 1);
        Value y = switch (variant) {
            case QUANTIZED -> g.quantizedLinear(tokens, "fc", HIDDEN, HIDDEN, true, BlockFormat.INT8, 4);
            case W8A8 -> new Linears(WeightMode.W8A8, 4).linear(g, tokens, "fc", HIDDEN, HIDDEN, true);
            default -> g.linear(variant == 0 ? tokens : g.silu(tokens), "fc", HIDDEN, HIDDEN, true);
        };
        g.output(y, "y");
        return g;
    }

    /** Writes random fp16 weights (from {@code seed}) for {@link #graph}. */
    static Path writeWeights(Path file, long seed) {
        SplittableRandom random = new SplittableRandom(seed);
        List<SafetensorsWriter.Entry> entries = new ArrayList<>();
        for (Map.Entry<String, long[]> w : new java.util.TreeMap<>(graph(0).weights()).entrySet()) {
            float[] values = new float[(int) FloatTensor.elementCount(w.getValue())];
            for (int i = 0; i < values.length; i++) values[i] = (float) (random.nextDouble() - 0.5);
            entries.add(new SafetensorsWriter.Entry(w.getKey(), DType.F16, w.getValue(), TensorData.floats(DType.F16, values)));
        }
        SafetensorsWriter.write(file, entries);
        return file;
    }

    static FloatTensor input() {
        SplittableRandom random = new SplittableRandom(7);
        float[] x = new float[(int) (CHANNELS * 64)];
        for (int i = 0; i < x.length; i++) x[i] = (float) random.nextGaussian();
        return new FloatTensor(new long[]{1, CHANNELS, 8, 8}, x);
    }

    /**
     * Loads the model from {@code weights} through {@code cache} (or without one when null), runs it once, and waits
     * until the cache has written what it writes behind the load (as a process does before it exits).
     */
    static float[] run(Path weights, int variant, RuntimeOptions options, PreparedModelCache cache) {
        GraphBuilder graph = graph(variant);
        try (SafetensorsFile file = SafetensorsFile.open(weights);
             OnnxModel model = cache == null ? OnnxModel.create(graph, OnnxModel.WeightProvider.of(file, graph), options)
                     : cache.load("test", graph, file, OnnxModel.WeightProvider.of(file, graph), options)) {
            return model.runSingle(Map.of("x", input())).data();
        } finally {
            if (cache != null) cache.awaitWrites();
        }
    }
}
