package dev.easel.diffusion.scheduler;

/**
 * The numpy range functions diffusers builds its schedules with, in float64 with numpy's rounding, so that
 * fractional timesteps and interpolated sigmas come out as diffusers' do.
 */
final class NumpyRanges {
    private NumpyRanges() {
    }

    /** {@code np.linspace(start, stop, num)}: {@code k * step + start}, with the last value exactly {@code stop}. */
    static double[] linspace(double start, double stop, int num) {
        double[] out = new double[num];
        if (num == 1) {
            out[0] = start;
            return out;
        }
        double step = (stop - start) / (num - 1);
        for (int k = 0; k < num; k++) {
            out[k] = k * step + start;
        }
        out[num - 1] = stop;
        return out;
    }

    /**
     * The first {@code num} values of {@code np.arange(start, 0, -step)}: numpy fills {@code start + k * d} with
     * {@code d = (start - step) - start}, the step as first rounded.
     */
    static double[] arangeDown(double start, double step, int num) {
        double d = (start - step) - start;
        double[] out = new double[num];
        for (int k = 0; k < num; k++) {
            out[k] = start + k * d;
        }
        return out;
    }

    /** {@code np.round}: halves go to the even neighbour. */
    static double round(double x) {
        return Math.rint(x);
    }

    /** {@code np.interp(x, arange(len(fp)), fp)}: linear interpolation on the integer grid, clamped at the ends. */
    static double interp(double x, float[] fp) {
        int last = fp.length - 1;
        if (!(x > 0)) return fp[0];
        if (x >= last) return fp[last];
        int j = (int) Math.floor(x);
        double slope = ((double) fp[j + 1] - fp[j]);
        return slope * (x - j) + fp[j];
    }
}
