package dev.easel.diffusion.family;

import dev.easel.diffusion.model.t5.T5TextEncoder;
import dev.easel.engine.tensor.FloatTensor;

import java.util.function.Supplier;

/**
 * FLUX.1's T5 encoder, either kept loaded or loaded for each encoding and closed after it. T5-XXL is a fifth of a
 * quantized FLUX.1's memory but runs for seconds of a generation that takes minutes: loaded only while it encodes,
 * its memory is free while the transformer steps and the VAE decodes. A reload is the conversion of its weights
 * again, or, with a prepared-model cache, a mapping of the cached model (seconds). Encodings take turns, so that
 * two requests never hold two copies.
 */
public final class T5Slot implements AutoCloseable {
    private final Supplier<T5TextEncoder> loader;
    private final boolean kept;
    private final long weightBytes;
    private T5TextEncoder loaded;
    private boolean closed;

    private T5Slot(Supplier<T5TextEncoder> loader, boolean kept, long weightBytes, T5TextEncoder loaded) {
        this.loader = loader;
        this.kept = kept;
        this.weightBytes = weightBytes;
        this.loaded = loaded;
    }

    /** T5 loaded now and kept until the slot closes. */
    public static T5Slot kept(T5TextEncoder t5) {
        return new T5Slot(() -> t5, true, t5.weightBytes(), t5);
    }

    /**
     * T5 loaded by {@code loader} for each encoding and closed after it.
     *
     * @param weightBytes what the loaded encoder's weights take (counted in {@link #weightBytes()} though it is not
     *                    loaded between encodings: a memory budget must leave it room)
     */
    public static T5Slot onDemand(Supplier<T5TextEncoder> loader, long weightBytes) {
        return new T5Slot(loader, false, weightBytes, null);
    }

    /** last_hidden_state [1, L, d_model] of the ids, as {@link T5TextEncoder#encode}. */
    public synchronized FloatTensor encode(long[] inputIds) {
        if (closed) throw new IllegalStateException("the T5 encoder of this model is closed");
        T5TextEncoder t5 = loaded != null ? loaded : loader.get();
        try {
            return t5.encode(inputIds);
        } finally {
            if (kept) {
                loaded = t5;
            } else {
                t5.close();
                loaded = null;
            }
        }
    }

    /** Whether T5 stays loaded between encodings. */
    public boolean kept() {
        return kept;
    }

    /** The bytes T5's weights take while it is loaded, whether or not it is loaded now. */
    public long weightBytes() {
        return weightBytes;
    }

    @Override
    public synchronized void close() {
        closed = true;
        if (loaded != null) loaded.close();
        loaded = null;
    }
}
