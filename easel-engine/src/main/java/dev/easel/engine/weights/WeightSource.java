package dev.easel.engine.weights;

import dev.easel.engine.quant.BlockFormat;
import dev.easel.engine.quant.QuantizedWeight;

import java.lang.foreign.Arena;
import java.nio.ByteBuffer;
import java.util.Optional;
import java.util.Set;

/**
 * The weight tensors of one model component, by name, as the models consume them.
 * One component may come from one file, several files (shards), or a renamed view of a checkpoint.
 */
public interface WeightSource extends AutoCloseable {

    /** Where these weights come from (a file, or a view over one), for error messages. */
    String location();

    /**
     * The weight tensors, in storage order. Not listed: integer and boolean tensors
     * (e.g. {@code position_ids}), 0-dim scalars (e.g. {@code logit_scale}) and noise-schedule buffers
     * (e.g. {@code alphas_cumprod}).
     */
    Set<String> names();

    /** @throws WeightsException naming the tensor and this source when it is not here */
    TensorInfo info(String name);

    default boolean contains(String name) {
        return names().contains(name);
    }

    /**
     * A new direct buffer, native byte order, 64-byte aligned, holding the tensor as fp32 (converted from
     * whatever float type is stored), suitable for binding zero-copy into ONNX Runtime. Its memory lives
     * as long as the buffer is reachable.
     */
    default ByteBuffer float32(String name) {
        return float32(name, Arena.ofAuto());
    }

    /** As {@link #float32(String)}, with the memory owned by {@code arena} (freed when it closes). */
    ByteBuffer float32(String name, Arena arena);

    /**
     * The tensor's stored blocks as MatMulNBits blocks of {@code format}, where the stored form maps onto it
     * without rounding (e.g. GGUF Q8_0 to 8 bits); empty otherwise, and then the caller quantizes
     * {@link #float32}. Rows are the tensor's last axis.
     */
    default Optional<QuantizedWeight> quantized(String name, BlockFormat format, Arena arena) {
        return Optional.empty();
    }

    /** Releases what this source opened; views over another source do not close it. */
    @Override
    void close();
}
