package dev.easel.diffusion.family;

import java.util.function.Function;
import java.util.function.Supplier;

/**
 * A model's text encoder(s), either kept loaded or loaded for each prompt and closed after it. Where memory is what a
 * model is short of (its weights quantized), the encoders are large (FLUX.1's T5-XXL is a fifth of its memory,
 * SDXL's two CLIPs about half) but run for seconds of a generation that takes minutes: loaded only while they encode,
 * their memory is free while the denoiser steps and the VAE decodes. A reload is the conversion of their weights
 * again, or, with a prepared-model cache, a mapping of the cached model (seconds). Encodings take turns, so that two
 * requests never hold two copies.
 *
 * @param <E> the encoder, or a record of several encoders used together
 */
public final class EncoderSlot<E extends AutoCloseable> implements AutoCloseable {
    private final Supplier<E> loader;
    private final boolean kept;
    private final long weightBytes;
    private E loaded;
    private boolean closed;

    private EncoderSlot(Supplier<E> loader, boolean kept, long weightBytes, E loaded) {
        this.loader = loader;
        this.kept = kept;
        this.weightBytes = weightBytes;
        this.loaded = loaded;
    }

    /** The encoder, loaded now and kept until the slot closes. */
    public static <E extends AutoCloseable> EncoderSlot<E> kept(E encoder, long weightBytes) {
        return new EncoderSlot<>(() -> encoder, true, weightBytes, encoder);
    }

    /**
     * The encoder, loaded by {@code loader} for each prompt and closed after it.
     *
     * @param loadedNow   an encoder already loaded (the one loaded to check the weights), used by the first prompt and
     *                    then closed like the others; null when there is none
     * @param weightBytes what the loaded encoder's weights take (counted in {@link #weightBytes()} though it is not
     *                    loaded between prompts: a memory budget must leave it room)
     */
    public static <E extends AutoCloseable> EncoderSlot<E> onDemand(E loadedNow, Supplier<E> loader, long weightBytes) {
        return new EncoderSlot<>(loader, false, weightBytes, loadedNow);
    }

    /** {@code work} done with the encoder, loaded for it if it is not kept. */
    public synchronized <R> R use(Function<? super E, R> work) {
        if (closed) throw new IllegalStateException("the text encoder of this model is closed");
        E encoder = loaded != null ? loaded : loader.get();
        loaded = encoder;
        try {
            return work.apply(encoder);
        } finally {
            if (!kept) {
                loaded = null;
                closeEncoder(encoder);
            }
        }
    }

    /** Whether the encoder stays loaded between prompts. */
    public boolean kept() {
        return kept;
    }

    /** The bytes the encoder's weights take while it is loaded, whether or not it is loaded now. */
    public long weightBytes() {
        return weightBytes;
    }

    @Override
    public synchronized void close() {
        closed = true;
        if (loaded != null) closeEncoder(loaded);
        loaded = null;
    }

    private static void closeEncoder(AutoCloseable encoder) {
        try {
            encoder.close();
        } catch (Exception e) {
            // the encoders' close() throws nothing checked; anything else is a bug worth seeing
            throw new IllegalStateException("closing a text encoder failed", e);
        }
    }
}
