package dev.easel.diffusion.scheduler;

import dev.easel.engine.tensor.FloatTensor;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

/** Comparisons in the fixtures' metric: max|a - b| / max|b| over the whole tensor. */
final class Close {
    private Close() {
    }

    static double relativeError(FloatTensor actual, FloatTensor expected) {
        float[] a = actual.data(), b = expected.data();
        double maxDiff = 0, maxRef = 0;
        for (int j = 0; j < b.length; j++) {
            maxDiff = Math.max(maxDiff, Math.abs((double) a[j] - b[j]));
            maxRef = Math.max(maxRef, Math.abs(b[j]));
        }
        if (Double.isNaN(maxDiff) || hasNaN(a)) return Double.NaN;
        return maxRef == 0 ? maxDiff : maxDiff / maxRef;
    }

    static void assertClose(String what, FloatTensor actual, FloatTensor expected, double tolerance) {
        assertThat(actual.shape()).as(what + " shape").isEqualTo(expected.shape());
        double error = relativeError(actual, expected);
        if (!(error <= tolerance)) {
            fail(what + ": relative error " + error + " exceeds " + tolerance);
        }
    }

    static void assertClose(String what, double actual, double expected, double tolerance) {
        double error = expected == 0 ? Math.abs(actual) : Math.abs(actual - expected) / Math.abs(expected);
        if (!(error <= tolerance)) {
            fail(what + ": got " + actual + ", expected " + expected + " (relative error " + error + " > " + tolerance + ")");
        }
    }

    private static boolean hasNaN(float[] a) {
        for (float v : a) if (Float.isNaN(v)) return true;
        return false;
    }
}
