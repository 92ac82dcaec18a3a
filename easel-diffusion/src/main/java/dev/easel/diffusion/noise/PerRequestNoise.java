package dev.easel.diffusion.noise;

import dev.easel.engine.tensor.FloatTensor;

import java.util.Arrays;
import java.util.List;

/**
 * The noise of several requests run as one batch: the batch's rows are request 0's {@code n_0} images, then
 * request 1's {@code n_1}, and so on, and a draw {@code next(N, ...)} with {@code N = n_0 + n_1 + ...} takes
 * {@code next(n_i, ...)} from request i's own source and stacks the parts along the first axis. Each request
 * therefore sees exactly the stream it sees when it runs alone (its initial latents, then one draw per step
 * for the samplers that draw), so merging requests never changes their images.
 */
public final class PerRequestNoise implements NoiseSource {
    private final List<NoiseSource> sources;
    private final int[] imageCounts;
    private final long rows;

    /**
     * @param sources     one per request, in batch order (a request's own {@code TorchGenerator(seed)})
     * @param imageCounts rows of each request
     */
    public PerRequestNoise(List<? extends NoiseSource> sources, int[] imageCounts) {
        if (sources.isEmpty() || sources.size() != imageCounts.length) {
            throw new IllegalArgumentException(sources.size() + " noise sources for " + imageCounts.length + " requests");
        }
        long total = 0;
        for (int n : imageCounts) {
            if (n < 1) throw new IllegalArgumentException("image counts must be positive: " + Arrays.toString(imageCounts));
            total += n;
        }
        this.sources = List.copyOf(sources);
        this.imageCounts = imageCounts.clone();
        this.rows = total;
    }

    /** One {@link TorchGenerator} per request, seeded with the request's seed. */
    public static PerRequestNoise seeded(long[] seeds, int[] imageCounts) {
        return new PerRequestNoise(Arrays.stream(seeds).mapToObj(TorchGenerator::new).toList(), imageCounts);
    }

    /** The shape's first axis must be the batch's total image count. */
    @Override
    public FloatTensor next(long... shape) {
        if (shape.length == 0 || shape[0] != rows) {
            throw new IllegalArgumentException("a draw of shape " + Arrays.toString(shape) + " for a batch of " + rows
                    + " images " + Arrays.toString(imageCounts) + ": the first dimension must be " + rows);
        }
        if (sources.size() == 1) return sources.getFirst().next(shape);
        float[] data = new float[Math.toIntExact(FloatTensor.elementCount(shape))];
        int at = 0;
        for (int i = 0; i < imageCounts.length; i++) {
            long[] part = shape.clone();
            part[0] = imageCounts[i];
            float[] drawn = sources.get(i).next(part).data();
            System.arraycopy(drawn, 0, data, at, drawn.length);
            at += drawn.length;
        }
        return new FloatTensor(shape, data);
    }
}
