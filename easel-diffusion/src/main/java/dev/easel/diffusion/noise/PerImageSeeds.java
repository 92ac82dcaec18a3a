package dev.easel.diffusion.noise;

import dev.easel.engine.tensor.FloatTensor;

import java.util.Arrays;

/**
 * One generator per image, as diffusers does when a pipeline gets a list of generators
 * ({@code generator=[torch.Generator().manual_seed(s) for s in seeds]}): a batched draw {@code next(n, ...)}
 * takes image i's slice {@code next(1, ...)} from generator i and stacks the slices along the first axis. Image
 * i is then the same as a batch of one generated with seed i alone, so a single image of a batch can be
 * regenerated from its own seed.
 *
 * <p>This differs from {@link TorchGenerator#next} on a batched shape, which draws the whole batch from one
 * generator (diffusers' behaviour for a single generator); in both cases successive calls continue the streams.
 */
public final class PerImageSeeds implements NoiseSource {
    private final long[] seeds;
    private final TorchGenerator[] generators;

    public PerImageSeeds(long... seeds) {
        if (seeds.length == 0) {
            throw new IllegalArgumentException("at least one seed is needed");
        }
        this.seeds = seeds.clone();
        this.generators = new TorchGenerator[seeds.length];
        for (int i = 0; i < seeds.length; i++) {
            generators[i] = new TorchGenerator(seeds[i]);
        }
    }

    /** Seeds {@code firstSeed, firstSeed + 1, ...}: one per image of a batch of {@code count}. */
    public static PerImageSeeds consecutive(long firstSeed, int count) {
        if (count < 1) {
            throw new IllegalArgumentException("image count must be positive, got " + count);
        }
        long[] seeds = new long[count];
        for (int i = 0; i < count; i++) {
            seeds[i] = firstSeed + i;
        }
        return new PerImageSeeds(seeds);
    }

    public long[] seeds() {
        return seeds.clone();
    }

    public int imageCount() {
        return seeds.length;
    }

    /** The shape's first axis must be the number of seeds. */
    @Override
    public FloatTensor next(long... shape) {
        if (shape.length == 0 || shape[0] != seeds.length) {
            throw new IllegalArgumentException("shape " + Arrays.toString(shape) + " must have "
                    + seeds.length + " (one per seed) as its first dimension");
        }
        long[] imageShape = shape.clone();
        imageShape[0] = 1;
        int per = Math.toIntExact(FloatTensor.elementCount(imageShape));
        float[] data = new float[Math.multiplyExact(per, seeds.length)];
        float[] slice = new float[per];
        synchronized (this) {
            for (int i = 0; i < seeds.length; i++) {
                generators[i].fill(slice);
                System.arraycopy(slice, 0, data, i * per, per);
            }
        }
        return new FloatTensor(shape, data);
    }
}
