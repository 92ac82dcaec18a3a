package dev.easel.diffusion.scheduler;

import dev.easel.diffusion.noise.RecordedNoise;
import dev.easel.engine.tensor.FloatTensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class SchedulersTest {

    @ParameterizedTest
    @ValueSource(ints = {0, -1, Integer.MIN_VALUE})
    void stepsBelowOneAreRefused(int steps) {
        assertThatThrownBy(() -> Schedulers.create(SamplerKind.EULER, SchedulerSettings.sd15(), steps, 1f))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("steps must be at least 1");
    }

    @Test
    void moreStepsThanTrainingTimestepsAreRefused() {
        assertThatThrownBy(() -> Schedulers.create(SamplerKind.DDIM, SchedulerSettings.sd15(), 1001, 1f))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("1000");
    }

    @ParameterizedTest
    @ValueSource(floats = {-0.01f, 1.01f, Float.NaN, Float.POSITIVE_INFINITY})
    void strengthOutsideZeroToOneIsRefused(float strength) {
        assertThatThrownBy(() -> Schedulers.create(SamplerKind.EULER, SchedulerSettings.sd15(), 10, strength))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("strength must be between 0 and 1");
    }

    @Test
    void missingArgumentsAreRefused() {
        assertThatThrownBy(() -> Schedulers.create(null, SchedulerSettings.sd15(), 10, 1f))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("sampler");
        assertThatThrownBy(() -> Schedulers.create(SamplerKind.EULER, null, 10, 1f))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("settings");
    }

    @ParameterizedTest
    @EnumSource(value = SamplerKind.class, names = {"EULER_A", "DDIM", "DPMPP_2M", "DPMPP_2M_KARRAS"})
    void flowModelsTakeOnlyEuler(SamplerKind kind) {
        assertThatThrownBy(() -> Schedulers.create(kind, SchedulerSettings.fluxSchnell(), 4, 1f))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("flow-matching")
                .hasMessageContaining("flow_euler");
    }

    @Test
    void flowEulerNeedsAFlowModel() {
        assertThatThrownBy(() -> Schedulers.create(SamplerKind.FLOW_EULER, SchedulerSettings.sd15(), 4, 1f))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("flow-matching");
    }

    @Test
    void eulerOnAFlowModelIsFlowEuler() {
        Scheduler euler = Schedulers.create(SamplerKind.EULER, SchedulerSettings.fluxSchnell(), 4, 1f);
        Scheduler flow = Schedulers.create(SamplerKind.FLOW_EULER, SchedulerSettings.fluxSchnell(), 4, 1f);
        for (int i = 0; i <= 4; i++) assertThat(euler.sigma(i)).isEqualTo(flow.sigma(i));
    }

    @Test
    void dynamicShiftNeedsTheImageSize() {
        assertThatThrownBy(() -> Schedulers.create(SamplerKind.FLOW_EULER, SchedulerSettings.fluxDev(), 4, 1f))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("token count");
        Scheduler s = Schedulers.create(SamplerKind.FLOW_EULER, SchedulerSettings.fluxDev().withImageTokens(4096), 4, 1f);
        assertThat(s.sigma(1)).isGreaterThan(0.75f); // shifted towards noise, unlike schnell's 0.75
    }

    /** The fixtures README's example: N = 10 at strength 0.25 runs 2 steps on SD and 3 on Flux. */
    @Test
    void strengthRulesOfTheTwoPipelineFamilies() {
        assertThat(Schedulers.create(SamplerKind.EULER, SchedulerSettings.sd15(), 10, 0.25f).stepCount()).isEqualTo(2);
        assertThat(Schedulers.create(SamplerKind.FLOW_EULER, SchedulerSettings.fluxSchnell(), 10, 0.25f).stepCount()).isEqualTo(3);
    }

    /** 0.7f is 0.699999988; diffusers sees the user's 0.7, and int(10 * 0.7) = 7. */
    @Test
    void strengthIsReadAsTheDecimalTheUserSent() {
        assertThat(Schedulers.create(SamplerKind.EULER, SchedulerSettings.sd15(), 10, 0.7f).stepCount()).isEqualTo(7);
        assertThat(Schedulers.create(SamplerKind.EULER, SchedulerSettings.sd15(), 10, 0.3f).stepCount()).isEqualTo(3);
    }

    @Test
    void strengthRunsTheTailOfTheSchedule() {
        Scheduler full = Schedulers.create(SamplerKind.DPMPP_2M_KARRAS, SchedulerSettings.sd15(), 8, 1f);
        Scheduler tail = Schedulers.create(SamplerKind.DPMPP_2M_KARRAS, SchedulerSettings.sd15(), 8, 0.5f);
        assertThat(tail.stepCount()).isEqualTo(4);
        for (int i = 0; i < 4; i++) {
            assertThat(tail.timestep(i)).isEqualTo(full.timestep(4 + i));
            assertThat(tail.sigma(i)).isEqualTo(full.sigma(4 + i));
        }
        assertThat(tail.sigma(4)).isZero();
    }

    @Test
    void strengthZeroRunsNothingAndKeepsTheImage() {
        Scheduler s = Schedulers.create(SamplerKind.EULER, SchedulerSettings.sd15(), 10, 0f);
        assertThat(s.stepCount()).isZero();
        FloatTensor image = tensor(0.5f, -1f, 2f, 0f);
        assertThat(s.addNoise(image, tensor(1f, 1f, 1f, 1f), 0)).isEqualTo(image);
    }

    @Test
    void theEndOfTheRunReturnsTheCleanLatents() {
        // DDIM with set_alpha_to_one=false ends at sigma_min, yet the blend after the last step uses the clean image.
        Scheduler s = Schedulers.create(SamplerKind.DDIM, SchedulerSettings.sd15(), 5, 1f);
        assertThat(s.sigma(5)).isGreaterThan(0f);
        FloatTensor image = tensor(0.5f, -1f, 2f, 0f);
        assertThat(s.addNoise(image, tensor(1f, 1f, 1f, 1f), 5)).isEqualTo(image);
        assertThat(s.addNoise(image, tensor(1f, 1f, 1f, 1f), 4)).isNotEqualTo(image);
    }

    @Test
    void stepsRunInOrder() {
        Scheduler s = Schedulers.create(SamplerKind.DPMPP_2M, SchedulerSettings.sd15(), 4, 1f);
        FloatTensor x = tensor(1f, 2f, 3f, 4f);
        assertThatThrownBy(s::lastDenoised).isInstanceOf(IllegalStateException.class);
        assertThatThrownBy(() -> s.step(1, x, x, noDraws())).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("expected step 0");
        s.step(0, x, x, noDraws());
        assertThatThrownBy(() -> s.step(0, x, x, noDraws())).isInstanceOf(IllegalStateException.class);
        assertThatThrownBy(() -> s.timestep(4)).isInstanceOf(IndexOutOfBoundsException.class);
        assertThatThrownBy(() -> s.sigma(5)).isInstanceOf(IndexOutOfBoundsException.class);
    }

    @Test
    void modelOutputMustMatchTheLatents() {
        Scheduler s = Schedulers.create(SamplerKind.DDIM, SchedulerSettings.sd15(), 4, 1f);
        FloatTensor x = tensor(1f, 2f, 3f, 4f);
        FloatTensor wrong = new FloatTensor(new long[] {2, 2}, new float[4]);
        assertThatThrownBy(() -> s.step(0, x, wrong, noDraws())).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("shape");
    }

    /** Euler draws one (unused) tensor per step as diffusers does; Euler a uses one; DDIM and DPM++ draw none. */
    @ParameterizedTest
    @EnumSource(value = SamplerKind.class, names = {"EULER", "EULER_A", "DDIM", "DPMPP_2M", "DPMPP_2M_KARRAS"})
    void drawsPerStepMatchDiffusers(SamplerKind kind) {
        int steps = 5;
        Scheduler s = Schedulers.create(kind, SchedulerSettings.sd15(), steps, 1f);
        List<FloatTensor> draws = new ArrayList<>();
        for (int i = 0; i < steps; i++) draws.add(tensor(0.1f * i, 0f, -0.1f, 0.2f));
        RecordedNoise noise = new RecordedNoise(draws);
        FloatTensor x = s.initialLatents(tensor(1f, -1f, 0.5f, 0f));
        for (int i = 0; i < steps; i++) x = s.step(i, x, tensor(0.9f, -1.1f, 0.4f, 0.1f), noise);
        boolean draws1PerStep = kind == SamplerKind.EULER || kind == SamplerKind.EULER_A;
        assertThat(noise.used()).isEqualTo(draws1PerStep ? steps : 0);
    }

    @Test
    void flowEulerDrawsNothing() {
        Scheduler s = Schedulers.create(SamplerKind.FLOW_EULER, SchedulerSettings.fluxSchnell(), 4, 1f);
        FloatTensor x = s.initialLatents(tensor(1f, -1f, 0.5f, 0f));
        for (int i = 0; i < 4; i++) x = s.step(i, x, tensor(0.9f, -1.1f, 0.4f, 0.1f), noDraws());
        assertThat(s.timestep(0)).isEqualTo(1f);
    }

    /** With a perfect x0 prediction every sampler lands on the clean latents at sigma 0. */
    @ParameterizedTest
    @EnumSource(value = SamplerKind.class, names = {"EULER", "EULER_A", "DDIM", "DPMPP_2M", "DPMPP_2M_KARRAS"})
    void aPerfectEpsilonModelDenoisesExactly(SamplerKind kind) {
        FloatTensor clean = tensor(0.3f, -0.7f, 1.2f, 0.05f);
        FloatTensor noise = tensor(1.1f, 0.4f, -0.9f, -1.6f);
        // set_alpha_to_one so that DDIM, too, ends at sigma 0
        SchedulerSettings settings = SchedulerSettings.discrete(Parameterization.EPSILON, 1000,
                BetaSchedule.stableDiffusion(), TimestepSpacing.TRAILING, 1, true);
        Scheduler s = Schedulers.create(kind, settings, 6, 1f);
        List<FloatTensor> draws = new ArrayList<>();
        for (int i = 0; i < 6; i++) draws.add(noise);
        RecordedNoise stepNoise = new RecordedNoise(draws);
        FloatTensor x = s.addNoise(clean, noise, 0);
        for (int i = 0; i < s.stepCount(); i++) {
            // The noise in x relative to the clean image, seen at this step's level: what an ideal model predicts.
            FloatTensor eps = idealEpsilon(s, x, clean, i);
            x = s.step(i, x, eps, stepNoise);
            assertThat(Close.relativeError(s.lastDenoised(), clean)).as("x0 at step %d", i).isLessThan(1e-5);
        }
        assertThat(Close.relativeError(x, clean)).isLessThan(1e-5);
    }

    /** eps = (x_model - alpha_model * clean) / sigma_model in the model's variance-preserving scaling. */
    private static FloatTensor idealEpsilon(Scheduler s, FloatTensor x, FloatTensor clean, int i) {
        FloatTensor modelIn = s.scaleModelInput(x, i);
        double sigma = s.sigma(i);
        double alpha = 1 / Math.sqrt(sigma * sigma + 1);
        double sigmaVp = sigma * alpha;
        // A sampler holding x unscaled (Euler) and one holding it variance-preserving (DDIM, DPM++) give the same
        // model input, so this is independent of the sampler.
        float[] in = modelIn.data(), c = clean.data(), r = new float[in.length];
        for (int j = 0; j < r.length; j++) r[j] = (float) ((in[j] - alpha * c[j]) / sigmaVp);
        return new FloatTensor(x.shape(), r);
    }

    private static RecordedNoise noDraws() {
        return new RecordedNoise(List.of());
    }

    private static FloatTensor tensor(float... values) {
        return new FloatTensor(new long[] {1, values.length}, values);
    }
}
