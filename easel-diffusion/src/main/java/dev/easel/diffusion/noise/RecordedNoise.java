package dev.easel.diffusion.noise;

import dev.easel.engine.tensor.FloatTensor;

import java.util.Arrays;
import java.util.List;

/**
 * Replays a fixed list of draws in order: the reference fixtures' {@code random_NN.npy} arrays, so that a
 * test can feed a pipeline or a scheduler exactly the noise the reference run used. Each call must ask for
 * the shape of the next recorded draw; asking for more draws than were recorded is an error, which is how
 * tests notice a sampler that draws more (or fewer, via {@link #remaining()}) than the reference did.
 */
public final class RecordedNoise implements NoiseSource {
    private final List<FloatTensor> draws;
    private int next;

    public RecordedNoise(List<FloatTensor> draws) {
        this.draws = List.copyOf(draws);
    }

    @Override
    public synchronized FloatTensor next(long... shape) {
        if (next >= draws.size()) {
            throw new IllegalStateException("all " + draws.size() + " recorded draws are used; draw #" + (next + 1)
                    + " of shape " + Arrays.toString(shape) + " was asked for");
        }
        FloatTensor draw = draws.get(next);
        if (!Arrays.equals(draw.shape(), shape)) {
            throw new IllegalArgumentException("recorded draw #" + next + " has shape " + Arrays.toString(draw.shape())
                    + ", asked for " + Arrays.toString(shape));
        }
        next++;
        return draw.copy();
    }

    /** Draws handed out so far. */
    public synchronized int used() {
        return next;
    }

    /** Draws not yet handed out. */
    public synchronized int remaining() {
        return draws.size() - next;
    }
}
