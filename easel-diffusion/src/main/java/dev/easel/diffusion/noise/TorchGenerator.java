package dev.easel.diffusion.noise;

import dev.easel.engine.tensor.FloatTensor;

/**
 * PyTorch's CPU random generator and its float32 {@code randn}, bit for bit: {@code new TorchGenerator(seed)}
 * followed by {@code next(shape)} calls gives the same tensors, in the same order, as
 * <pre>{@code g = torch.Generator().manual_seed(seed)
 * torch.randn(shape, generator=g, dtype=torch.float32)   # repeated}</pre>
 * which is how diffusers pipelines draw their latents and step noise. A batched draw {@code next(n, C, H, W)}
 * is one tensor from one generator, as diffusers draws a batch of n images from a single generator; for one
 * generator per image see {@link PerImageSeeds}.
 *
 * <h2>The algorithm</h2>
 * <ul>
 *   <li>Engine: 32-bit Mersenne Twister seeded with the low 32 bits of the seed (seeds equal modulo 2^32 give
 *       the same stream, as in PyTorch).</li>
 *   <li>Tensors of 16 or more elements (torch's vectorised {@code normal_fill}): first one float uniform per
 *       element, {@code (bits & 0xFFFFFF) * 2^-24} from one 32-bit output each; then Box-Muller on each block of
 *       16, element j and j+8 of a block forming a pair (see {@link Avx2BoxMuller}). If the count is not a
 *       multiple of 16, 16 fresh uniforms are drawn into the last 16 positions (overwriting the partial tail and
 *       the end of the last full block) and that block is transformed again.</li>
 *   <li>Tensors of 1 to 15 elements (torch's scalar path): each element is a double-precision Box-Muller
 *       value cast to float. A pair takes two 53-bit double uniforms {@code u1, u2} (each
 *       {@code (64 bits & (2^53-1)) * 2^-53} from two 32-bit outputs, the first one high), gives
 *       {@code r cos(2 pi u1)} with {@code r = sqrt(-2 log1p(-u2))}, and keeps {@code r sin(2 pi u1)} in the
 *       generator: the next scalar-path element, in this call or in a later one, is that cached value. The
 *       vectorised path neither uses nor clears the cache; re-seeding clears it.</li>
 * </ul>
 * The vectorised path reproduces the x86-64 AVX2 kernel (what PyTorch runs on any AVX2 CPU); PyTorch on
 * CPUs without AVX2 (e.g. ARM) rounds the transform differently and can differ in the last bits.
 *
 * <p>Not thread-safe in the sense of a shared stream: calls are serialised, so concurrent callers get
 * disjoint draws, but in an unspecified order.
 */
public final class TorchGenerator implements NoiseSource {
    /** Below this many elements torch uses the scalar double-precision path. */
    static final int VECTOR_THRESHOLD = 16;
    private static final float FLOAT_UNIFORM_SCALE = 0x1p-24f;
    private static final double DOUBLE_UNIFORM_SCALE = 0x1p-53;
    private static final long DOUBLE_UNIFORM_MASK = (1L << 53) - 1;

    private final Mt19937 engine;
    private long seed;
    private boolean hasCachedNormal;
    private double cachedNormal;

    /** A generator in the state of {@code torch.Generator().manual_seed(seed)}. */
    public TorchGenerator(long seed) {
        this.engine = new Mt19937(seed);
        this.seed = seed;
    }

    /** Resets to the state of {@code manual_seed(seed)}, dropping any cached normal value. */
    public synchronized void manualSeed(long seed) {
        engine.seed(seed);
        this.seed = seed;
        hasCachedNormal = false;
    }

    /** The seed last given (PyTorch's {@code initial_seed()}). */
    public synchronized long initialSeed() {
        return seed;
    }

    /** {@code torch.randn(shape, generator=this)}: a new float32 tensor of N(0, 1) values. */
    @Override
    public FloatTensor next(long... shape) {
        float[] data = new float[Math.toIntExact(FloatTensor.elementCount(shape))];
        fill(data);
        return new FloatTensor(shape, data);
    }

    /**
     * Fills {@code out} exactly as {@code torch.randn} fills a contiguous tensor of {@code out.length} elements
     * (the shape does not matter, only the element count).
     */
    public synchronized void fill(float[] out) {
        int n = out.length;
        if (n >= VECTOR_THRESHOLD) {
            fillVectorised(out, n);
        } else {
            for (int i = 0; i < n; i++) {
                out[i] = (float) nextScalarNormal();
            }
        }
    }

    private void fillVectorised(float[] out, int n) {
        for (int i = 0; i < n; i++) {
            out[i] = nextFloatUniform();
        }
        int fullBlocksEnd = n - n % 16;
        for (int i = 0; i < fullBlocksEnd; i += 16) {
            Avx2BoxMuller.transform16(out, i);
        }
        if (fullBlocksEnd != n) {
            int last = n - 16;
            for (int i = last; i < n; i++) {
                out[i] = nextFloatUniform();
            }
            Avx2BoxMuller.transform16(out, last);
        }
    }

    /** A float uniform in [0, 1) on the 2^-24 grid, from one 32-bit output. */
    float nextFloatUniform() {
        return (engine.nextInt() & 0xFFFFFF) * FLOAT_UNIFORM_SCALE;
    }

    /** A double uniform in [0, 1) on the 2^-53 grid, from two 32-bit outputs. */
    double nextDoubleUniform() {
        return (engine.nextLong() & DOUBLE_UNIFORM_MASK) * DOUBLE_UNIFORM_SCALE;
    }

    /**
     * One value of torch's scalar {@code normal_distribution<double>} (mean 0, std 1), cache included. The final
     * {@code * 1.0 + 0.0} is torch's {@code value * std + mean}: an identity except that it turns -0.0 into +0.0.
     */
    double nextScalarNormal() {
        if (hasCachedNormal) {
            hasCachedNormal = false;
            return cachedNormal * 1.0 + 0.0;
        }
        double u1 = nextDoubleUniform();
        double u2 = nextDoubleUniform();
        double r = Math.sqrt(-2.0 * StrictMath.log1p(-u2));
        double theta = 2.0 * Math.PI * u1;
        cachedNormal = r * StrictMath.sin(theta);
        hasCachedNormal = true;
        return r * StrictMath.cos(theta) * 1.0 + 0.0;
    }

    /** For tests: whether a scalar-path value is waiting in the cache. */
    synchronized boolean hasCachedNormal() {
        return hasCachedNormal;
    }
}
