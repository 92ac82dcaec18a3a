package dev.easel.diffusion.scheduler;

import dev.easel.engine.tensor.FloatTensor;

import java.util.Arrays;

/**
 * Axis 2 of a scheduler: what the denoiser predicts, and how to turn that into the clean-latent estimate
 * {@code x0} (and the noise estimate) at a given {@link NoiseLevel}. The formulas hold in any
 * {@link LatentSpace}: the level's {@code inputDivisor} maps the sampler's latents to the model's own scaling.
 */
public enum Parameterization {
    /** The model predicts the added noise (SD 1.x, SDXL). */
    EPSILON {
        @Override
        public FloatTensor denoised(FloatTensor x, FloatTensor out, NoiseLevel l) {
            checkShapes(x, out);
            float[] xs = x.data(), e = out.data(), r = new float[xs.length];
            for (int j = 0; j < r.length; j++) r[j] = (xs[j] - l.sigma() * e[j]) / l.alpha();
            return new FloatTensor(x.shape(), r);
        }

        @Override
        public FloatTensor noise(FloatTensor x, FloatTensor out, NoiseLevel l) {
            checkShapes(x, out);
            return out;
        }
    },
    /**
     * The model predicts velocity {@code v = alpha * noise - sigma * x0} in its own variance-preserving scaling
     * (SD 2.x 768, some SDXL fine-tunes).
     */
    V_PREDICTION {
        @Override
        public FloatTensor denoised(FloatTensor x, FloatTensor out, NoiseLevel l) {
            checkShapes(x, out);
            float d = l.inputDivisor();
            float cx = l.alpha() / (d * d), cv = l.sigma() / d;
            float[] xs = x.data(), v = out.data(), r = new float[xs.length];
            for (int j = 0; j < r.length; j++) r[j] = cx * xs[j] - cv * v[j];
            return new FloatTensor(x.shape(), r);
        }

        @Override
        public FloatTensor noise(FloatTensor x, FloatTensor out, NoiseLevel l) {
            checkShapes(x, out);
            float d = l.inputDivisor();
            float cx = l.sigma() / (d * d), cv = l.alpha() / d;
            float[] xs = x.data(), v = out.data(), r = new float[xs.length];
            for (int j = 0; j < r.length; j++) r[j] = cx * xs[j] + cv * v[j];
            return new FloatTensor(x.shape(), r);
        }
    },
    /** The model predicts the flow velocity {@code v = noise - x0} (Flux, SD3). */
    FLOW {
        @Override
        public FloatTensor denoised(FloatTensor x, FloatTensor out, NoiseLevel l) {
            checkShapes(x, out);
            float d = l.inputDivisor(), cv = l.sigma() / d;
            float[] xs = x.data(), v = out.data(), r = new float[xs.length];
            for (int j = 0; j < r.length; j++) r[j] = xs[j] / d - cv * v[j];
            return new FloatTensor(x.shape(), r);
        }

        @Override
        public FloatTensor noise(FloatTensor x, FloatTensor out, NoiseLevel l) {
            checkShapes(x, out);
            float d = l.inputDivisor(), cv = l.alpha() / d;
            float[] xs = x.data(), v = out.data(), r = new float[xs.length];
            for (int j = 0; j < r.length; j++) r[j] = xs[j] / d + cv * v[j];
            return new FloatTensor(x.shape(), r);
        }
    };

    /** The clean latents the model's output implies at level {@code l}. */
    public abstract FloatTensor denoised(FloatTensor x, FloatTensor modelOutput, NoiseLevel l);

    /** The noise the model's output implies at level {@code l} (DDIM steps with it). */
    public abstract FloatTensor noise(FloatTensor x, FloatTensor modelOutput, NoiseLevel l);

    /** Parses a diffusers {@code prediction_type}. */
    public static Parameterization parse(String predictionType) {
        return switch (predictionType) {
            case "epsilon" -> EPSILON;
            case "v_prediction" -> V_PREDICTION;
            case "flow_prediction" -> FLOW;
            default -> throw new IllegalArgumentException("unsupported prediction_type '" + predictionType
                    + "'; supported: epsilon, v_prediction, flow_prediction");
        };
    }

    static void checkShapes(FloatTensor x, FloatTensor out) {
        if (!Arrays.equals(x.shape(), out.shape())) {
            throw new IllegalArgumentException("model output shape " + Arrays.toString(out.shape())
                    + " does not match the latents " + Arrays.toString(x.shape()));
        }
    }
}
