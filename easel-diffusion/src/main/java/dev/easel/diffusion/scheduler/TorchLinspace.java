package dev.easel.diffusion.scheduler;

/**
 * {@code torch.linspace(start, end, steps, dtype=torch.float32)} on an x86-64 CPU, bit for bit. diffusers builds
 * its training betas with it, and a plain {@code start + i * step} differs from torch by an ulp at some indices,
 * which grows to 2 ulps in alphas_cumprod and the sigmas near T.
 *
 * <p>Torch's AVX2 kernel (the one that produced the reference fixtures) fills 8-lane vectors in pairs: each vector
 * starts at {@code start + step * i} (from the near end, {@code end - step * (steps - i - 1)}, past the middle),
 * rounded once because the compiler fuses it into an FMA, and lane j adds {@code j * step}, also fused; the
 * elements after the last full pair of vectors take the scalar formula.
 */
final class TorchLinspace {
    private static final int LANES = 8;

    private TorchLinspace() {
    }

    static float[] of(float start, float end, int steps) {
        float[] out = new float[steps];
        if (steps == 1) {
            out[0] = start;
            return out;
        }
        float step = (end - start) / (float) (steps - 1);
        int halfway = steps / 2;
        int vectorized = steps / (2 * LANES) * (2 * LANES);
        for (int i = 0; i < vectorized; i += LANES) {
            float base = element(start, end, step, halfway, steps, i);
            for (int j = 0; j < LANES; j++) {
                out[i + j] = Math.fma((float) j, step, base);
            }
        }
        for (int i = vectorized; i < steps; i++) {
            out[i] = element(start, end, step, halfway, steps, i);
        }
        return out;
    }

    private static float element(float start, float end, float step, int halfway, int steps, int i) {
        return i < halfway ? Math.fma(step, (float) i, start) : Math.fma(-step, (float) (steps - i - 1), end);
    }
}
