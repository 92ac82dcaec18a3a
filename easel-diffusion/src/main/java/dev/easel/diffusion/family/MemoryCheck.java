package dev.easel.diffusion.family;

import dev.easel.engine.graph.GraphBuilder;
import dev.easel.engine.runtime.SystemMemory;
import dev.easel.engine.runtime.WeightMode;
import dev.easel.engine.tensor.FloatTensor;
import dev.easel.engine.weights.WeightSource;
import dev.easel.engine.weights.WeightsException;

import java.util.HashSet;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.OptionalLong;

/**
 * Refuses, before anything is converted, a model whose fp32 weights alone exceed the memory this machine has
 * available: loading it would end with the process killed by the system instead of a message. A full-size FLUX.1
 * needs about 48 GB for its transformer and 19 GB for T5-XXL in fp32. Memory for activations comes on top, so
 * passing this check does not promise a run; failing it promises a failure.
 */
public final class MemoryCheck {

    private MemoryCheck() {
    }

    /** Bytes a component's weights take once converted to fp32. */
    static long fp32Bytes(WeightSource weights) {
        long bytes = 0;
        for (String name : weights.names()) bytes += weights.info(name).elementCount() * Float.BYTES;
        return bytes;
    }

    /**
     * Bytes a graph's weights take loaded in {@code mode}: its quantized weights at the mode's bytes per value
     * (integers and scales), the others fp32. Prepacking repacks the quantized weights once more while loading.
     */
    static long loadedBytes(GraphBuilder graph, WeightMode mode) {
        Set<String> quantized = quantized(graph);
        double bytes = 0;
        for (Map.Entry<String, long[]> w : graph.weights().entrySet()) {
            long count = FloatTensor.elementCount(w.getValue());
            bytes += quantized.contains(w.getKey()) ? count * mode.bytesPerValue() : count * (double) Float.BYTES;
        }
        return (long) bytes;
    }

    /**
     * Bytes one value of a quantized layer takes once ONNX Runtime has repacked it for its integer kernels. MatMulNBits
     * keeps a block sum beside each block's scale: measured on T5-XXL loaded alone (4.63 G quantized values, RSS after
     * load less the rest), 1.26 bytes per value in int8 against 1.125 as handed over. w8a8: the GEMM's packed int8 and
     * a sum per column, measured on the full-size FLUX.1 transformer (RSS after load against its 11.9 G values).
     */
    static double repackedBytesPerValue(WeightMode mode) {
        return switch (mode) {
            case FP32 -> Float.BYTES;
            case INT8 -> 1.27;
            case INT4 -> 0.77;
            case W8A8 -> 1.01; // the GEMM's packed B: the int8 values padded, plus a sum per column
        };
    }

    /** As {@link #loadedBytes} once loaded: the quantized layers at {@link #repackedBytesPerValue}. */
    static long residentBytes(GraphBuilder graph, WeightMode mode) {
        Set<String> quantized = quantized(graph);
        double bytes = 0;
        for (Map.Entry<String, long[]> w : graph.weights().entrySet()) {
            long count = FloatTensor.elementCount(w.getValue());
            bytes += quantized.contains(w.getKey()) ? count * repackedBytesPerValue(mode) : count * (double) Float.BYTES;
        }
        return (long) bytes;
    }

    /** The graph's quantized weights, block- or channel-quantized. */
    private static Set<String> quantized(GraphBuilder graph) {
        Set<String> all = new HashSet<>(graph.quantizedWeights().keySet());
        all.addAll(graph.channelQuantizedWeights());
        return all;
    }

    /** Whether weights of this many bytes fit the memory available (true where the system does not say). */
    static boolean fits(long bytes) {
        OptionalLong available = SystemMemory.availableBytes();
        return available.isEmpty() || bytes <= available.getAsLong();
    }

    /** @throws WeightsException naming the model, what it needs and what is available, when it cannot fit */
    static void requireFits(String model, long fp32Bytes) {
        requireFits(model, WeightMode.FP32, fp32Bytes);
    }

    /** As {@link #requireFits(String, long)} for weights loaded in {@code mode}; the message names smaller modes. */
    static void requireFits(String model, WeightMode mode, long bytes) {
        OptionalLong available = SystemMemory.availableBytes();
        if (available.isPresent() && bytes > available.getAsLong()) {
            String smaller = switch (mode) {
                case FP32 -> "free memory, use a machine with more, or load it with int8 or int4 weights";
                case INT8, W8A8 -> "free memory, use a machine with more, or load it with int4 weights";
                case INT4 -> "free memory, or use a machine with more";
            };
            throw new WeightsException(String.format(Locale.ROOT,
                    "%s needs %.1f GiB of memory for its weights in %s, but this machine has %.1f GiB available; "
                            + "it cannot be loaded here (%s)",
                    model, gib(bytes), mode, gib(available.getAsLong()), smaller));
        }
    }

    private static double gib(long bytes) {
        return bytes / (1024.0 * 1024 * 1024);
    }
}
