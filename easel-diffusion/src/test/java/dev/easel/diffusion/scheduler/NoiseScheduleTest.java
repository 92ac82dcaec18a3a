package dev.easel.diffusion.scheduler;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

class NoiseScheduleTest {

    @Test
    void stableDiffusionTable() {
        NoiseSchedule sd = NoiseSchedule.of(BetaSchedule.stableDiffusion(), 1000);
        assertThat(sd.trainSteps()).isEqualTo(1000);
        // first beta is beta_start exactly: a_0 = 1 - 0.00085
        assertThat((double) sd.alphaCumprod(0)).isCloseTo(1 - 0.00085, within(1e-7));
        // the README's sigma_max and sigma_min
        assertThat((double) sd.trainSigma(999)).isCloseTo(14.6146, within(1e-4));
        assertThat((double) sd.trainSigma(0)).isCloseTo(0.0292, within(1e-4));
        for (int t = 1; t < 1000; t++) {
            assertThat(sd.alphaCumprod(t)).isLessThan(sd.alphaCumprod(t - 1));
            assertThat(sd.trainSigma(t)).isGreaterThan(sd.trainSigma(t - 1));
            double a = sd.alphaCumprod(t);
            assertThat((double) sd.trainSigma(t)).isCloseTo(Math.sqrt((1 - a) / a), within(1e-6 * sd.trainSigma(t)));
        }
    }

    @Test
    void linearBetas() {
        NoiseSchedule linear = NoiseSchedule.of(new BetaSchedule(0.0001, 0.02, BetaSchedule.Kind.LINEAR), 1000);
        double product = 1;
        for (int t = 0; t < 1000; t++) product *= 1 - (0.0001 + t * (0.02 - 0.0001) / 999);
        assertThat((double) linear.alphaCumprod(999)).isCloseTo(product, within(1e-6 * product));
    }

    @Test
    void torchLinspaceHitsBothEnds() {
        float[] v = TorchLinspace.of(0.1f, 0.9f, 1000);
        assertThat(v[0]).isEqualTo(0.1f);
        assertThat(v[999]).isEqualTo(0.9f);
        for (int i = 1; i < v.length; i++) assertThat(v[i]).isGreaterThan(v[i - 1]);
        assertThat(TorchLinspace.of(2f, 3f, 1)).containsExactly(2f);
        assertThat(TorchLinspace.of(0f, 3f, 4)).containsExactly(0f, 1f, 2f, 3f);
    }

    @Test
    void badBetasAreRefused() {
        assertThatThrownBy(() -> new BetaSchedule(0.02, 0.01, BetaSchedule.Kind.LINEAR))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("beta_start");
        assertThatThrownBy(() -> new BetaSchedule(0.0, 0.01, BetaSchedule.Kind.LINEAR))
                .isInstanceOf(IllegalArgumentException.class);
    }
}
