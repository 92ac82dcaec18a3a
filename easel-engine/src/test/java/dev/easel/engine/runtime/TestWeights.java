package dev.easel.engine.runtime;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Random;

/** Weights and inputs for the linear-layer tests: seeded Gaussian values, and values as a session binds them. */
final class TestWeights {
    private TestWeights() {
    }

    /** {@code n} values drawn from N(0, sigma^2) with {@code seed}. */
    static float[] gaussian(int n, long seed, double sigma) {
        Random r = new Random(seed);
        float[] x = new float[n];
        for (int i = 0; i < n; i++) x[i] = (float) (r.nextGaussian() * sigma);
        return x;
    }

    /** The values in a direct, native-order buffer, as a {@link OnnxModel.WeightProvider} hands them over. */
    static ByteBuffer direct(float[] values) {
        ByteBuffer b = ByteBuffer.allocateDirect(values.length * 4).order(ByteOrder.nativeOrder());
        b.asFloatBuffer().put(values);
        return b;
    }
}
