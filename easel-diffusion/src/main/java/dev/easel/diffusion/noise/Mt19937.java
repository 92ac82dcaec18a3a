package dev.easel.diffusion.noise;

/**
 * The 32-bit Mersenne Twister (Matsumoto and Nishimura, 1998) with the standard {@code init_genrand} seeding:
 * the engine behind PyTorch's CPU generator, which feeds it the low 32 bits of the seed.
 * Same outputs as C++ {@code std::mt19937}. Not thread-safe.
 */
final class Mt19937 {
    private static final int N = 624;
    private static final int M = 397;
    private static final int MATRIX_A = 0x9908b0df;
    private static final int UPPER = 0x80000000;
    private static final int LOWER = 0x7fffffff;

    private final int[] state = new int[N];
    /** Index of the next word of {@link #state} to temper; N means the block is used up. */
    private int index;

    Mt19937(long seed) {
        seed(seed);
    }

    /** Re-seeds from the low 32 bits of {@code seed}; the first output regenerates the whole block. */
    void seed(long seed) {
        int[] s = state;
        s[0] = (int) seed;
        for (int i = 1; i < N; i++) {
            int prev = s[i - 1];
            s[i] = 1812433253 * (prev ^ (prev >>> 30)) + i;
        }
        index = N;
    }

    /** The next 32 random bits (an unsigned value, carried in an int). */
    int nextInt() {
        if (index == N) {
            regenerate();
        }
        int y = state[index++];
        y ^= y >>> 11;
        y ^= (y << 7) & 0x9d2c5680;
        y ^= (y << 15) & 0xefc60000;
        y ^= y >>> 18;
        return y;
    }

    /** Two successive outputs as one 64-bit value, the first one in the high half (PyTorch's {@code random64}). */
    long nextLong() {
        long hi = nextInt() & 0xffffffffL;
        long lo = nextInt() & 0xffffffffL;
        return (hi << 32) | lo;
    }

    private void regenerate() {
        int[] s = state;
        int i = 0;
        for (; i < N - M; i++) {
            s[i] = s[i + M] ^ twist(s[i], s[i + 1]);
        }
        for (; i < N - 1; i++) {
            s[i] = s[i + M - N] ^ twist(s[i], s[i + 1]);
        }
        s[N - 1] = s[M - 1] ^ twist(s[N - 1], s[0]);
        index = 0;
    }

    private static int twist(int u, int v) {
        int mixed = (u & UPPER) | (v & LOWER);
        return (mixed >>> 1) ^ ((v & 1) != 0 ? MATRIX_A : 0);
    }
}
