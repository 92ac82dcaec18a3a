package dev.easel.diffusion.scheduler;

import dev.easel.engine.tensor.FloatTensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

/**
 * Noisy latents built from a known clean image and noise; each parameterization, given the output an exact model
 * of its kind would produce, must recover both, in every latent form it can be used with.
 */
class ParameterizationTest {
    private static final FloatTensor CLEAN = tensor(0.3f, -0.7f, 1.2f, 0.05f, -1.5f, 0.9f);
    private static final FloatTensor NOISE = tensor(1.1f, 0.4f, -0.9f, -1.6f, 0.2f, -0.3f);
    private static final float[] SIGMAS = {14.6f, 3.2f, 1f, 0.4f, 0.03f};

    @ParameterizedTest
    @EnumSource(value = LatentSpace.class, names = {"SIGMA", "VARIANCE_PRESERVING"})
    void epsilon(LatentSpace space) {
        for (float s : SIGMAS) {
            NoiseLevel l = space.level(s);
            check(Parameterization.EPSILON, noisy(l), NOISE, l);
        }
    }

    @ParameterizedTest
    @EnumSource(value = LatentSpace.class, names = {"SIGMA", "VARIANCE_PRESERVING"})
    void velocity(LatentSpace space) {
        for (float s : SIGMAS) {
            NoiseLevel l = space.level(s);
            // v in the model's variance-preserving scaling: alpha_vp * noise - sigma_vp * x0
            double alphaVp = 1 / Math.sqrt(s * (double) s + 1), sigmaVp = s * alphaVp;
            FloatTensor v = combine(alphaVp, NOISE, -sigmaVp, CLEAN);
            check(Parameterization.V_PREDICTION, noisy(l), v, l);
        }
    }

    @Test
    void flow() {
        for (float s : new float[] {1f, 0.83f, 0.5f, 0.25f, 0.01f}) {
            NoiseLevel l = LatentSpace.FLOW.level(s);
            check(Parameterization.FLOW, noisy(l), combine(1, NOISE, -1, CLEAN), l);
        }
    }

    @Test
    void latentFormsDescribeTheSameImage() {
        for (float s : SIGMAS) {
            NoiseLevel sigma = LatentSpace.SIGMA.level(s), vp = LatentSpace.VARIANCE_PRESERVING.level(s);
            assertThat(sigma.alpha()).isEqualTo(1f);
            assertThat(sigma.sigma()).isEqualTo(s);
            // x0 + s n, scaled for the model, is the variance-preserving form
            assertThat((double) sigma.alpha() / sigma.inputDivisor()).isCloseTo(vp.alpha(), within(1e-6));
            assertThat((double) sigma.sigma() / sigma.inputDivisor()).isCloseTo(vp.sigma(), within(1e-6));
            assertThat(vp.alpha() * (double) vp.alpha() + vp.sigma() * (double) vp.sigma()).isCloseTo(1, within(1e-6));
        }
        NoiseLevel end = LatentSpace.VARIANCE_PRESERVING.level(0f);
        assertThat(end.alpha()).isEqualTo(1f);
        assertThat(end.sigma()).isZero();
        assertThat(LatentSpace.FLOW.level(0.25f)).isEqualTo(new NoiseLevel(0.75f, 0.25f, 1f));
    }

    @Test
    void parsesDiffusersPredictionTypes() {
        assertThat(Parameterization.parse("epsilon")).isEqualTo(Parameterization.EPSILON);
        assertThat(Parameterization.parse("v_prediction")).isEqualTo(Parameterization.V_PREDICTION);
        assertThat(Parameterization.parse("flow_prediction")).isEqualTo(Parameterization.FLOW);
        assertThatThrownBy(() -> Parameterization.parse("sample")).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("sample");
    }

    @Test
    void shapeMismatchIsRefused() {
        NoiseLevel l = LatentSpace.SIGMA.level(1f);
        FloatTensor other = new FloatTensor(new long[] {2, 3}, new float[6]);
        assertThatThrownBy(() -> Parameterization.EPSILON.denoised(CLEAN, other, l))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("shape");
    }

    /** float32 cancellation at sigma 14.6 costs about 1e-6; a wrong formula is off by order 1. */
    private static void check(Parameterization p, FloatTensor x, FloatTensor modelOutput, NoiseLevel l) {
        assertThat(Close.relativeError(p.denoised(x, modelOutput, l), CLEAN)).as("%s x0 at %s", p, l).isLessThan(1e-5);
        assertThat(Close.relativeError(p.noise(x, modelOutput, l), NOISE)).as("%s noise at %s", p, l).isLessThan(1e-5);
    }

    private static FloatTensor noisy(NoiseLevel l) {
        return combine(l.alpha(), CLEAN, l.sigma(), NOISE);
    }

    private static FloatTensor combine(double a, FloatTensor x, double b, FloatTensor y) {
        float[] r = new float[x.size()];
        for (int j = 0; j < r.length; j++) r[j] = (float) (a * x.data()[j] + b * y.data()[j]);
        return new FloatTensor(x.shape(), r);
    }

    private static FloatTensor tensor(float... values) {
        return new FloatTensor(new long[] {1, values.length}, values);
    }
}
