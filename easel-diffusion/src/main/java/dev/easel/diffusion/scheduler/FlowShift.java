package dev.easel.diffusion.scheduler;

/**
 * The time shift of a flow-matching schedule (diffusers FlowMatchEulerDiscreteScheduler): either a static
 * {@code shift}, or, with {@code dynamic}, a shift {@code mu} that grows linearly with the image's token count
 * between ({@code baseSeqLen}, {@code baseShift}) and ({@code maxSeqLen}, {@code maxShift}), as Flux.1-dev uses.
 */
public record FlowShift(double shift, boolean dynamic, double baseShift, double maxShift, int baseSeqLen, int maxSeqLen) {

    public FlowShift {
        if (!(shift > 0)) throw new IllegalArgumentException("flow shift must be positive, got " + shift);
        if (dynamic && maxSeqLen == baseSeqLen) {
            throw new IllegalArgumentException("dynamic shifting needs max_image_seq_len != base_image_seq_len");
        }
    }

    /** A static shift (1.0 = none, as Flux.1-schnell). */
    public static FlowShift fixed(double shift) {
        return new FlowShift(shift, false, 0.5, 1.15, 256, 4096);
    }

    /** Flux.1-dev's dynamic shift: 0.5 at 256 tokens to 1.15 at 4096 tokens (1024x1024). */
    public static FlowShift fluxDynamic() {
        return new FlowShift(1.0, true, 0.5, 1.15, 256, 4096);
    }

    /** The dynamic shift for an image of {@code imageTokens} packed latent tokens (diffusers calculate_shift). */
    public double mu(int imageTokens) {
        double m = (maxShift - baseShift) / (maxSeqLen - baseSeqLen);
        double b = baseShift - m * baseSeqLen;
        return imageTokens * m + b;
    }

    /** Shifts an unshifted sigma {@code s} in (0, 1], in float64 as diffusers does. */
    double apply(double s, int imageTokens) {
        if (dynamic) {
            double e = Math.exp(mu(imageTokens));
            return e / (e + (1 / s - 1));
        }
        return shift * s / (1 + (shift - 1) * s);
    }
}
