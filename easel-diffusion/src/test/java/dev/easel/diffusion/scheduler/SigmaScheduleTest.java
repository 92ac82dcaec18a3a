package dev.easel.diffusion.scheduler;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/** Timestep spacings as diffusers' formulas give them (values from numpy), and schedule invariants. */
class SigmaScheduleTest {
    private static final NoiseSchedule SD = NoiseSchedule.of(BetaSchedule.stableDiffusion(), 1000);

    private static float[] timesteps(TimestepSpacing spacing, int offset, SpacingConvention convention, int steps) {
        return new SpacedSchedule(SD, spacing, offset, convention, false).build(steps).timesteps();
    }

    @Test
    void leadingWithOffset() {
        assertThat(timesteps(TimestepSpacing.LEADING, 1, SpacingConvention.EULER, 4)).containsExactly(751, 501, 251, 1);
        assertThat(timesteps(TimestepSpacing.LEADING, 1, SpacingConvention.DDIM, 5)).containsExactly(801, 601, 401, 201, 1);
    }

    @Test
    void trailingRoundsHalvesToEven() {
        assertThat(timesteps(TimestepSpacing.TRAILING, 1, SpacingConvention.EULER, 4)).containsExactly(999, 749, 499, 249);
        assertThat(timesteps(TimestepSpacing.TRAILING, 0, SpacingConvention.DDIM, 3)).containsExactly(999, 666, 332);
        assertThat(timesteps(TimestepSpacing.TRAILING, 0, SpacingConvention.EULER, 16)).containsExactly(
                999, 937, 874, 811, 749, 687, 624, 561, 499, 437, 374, 311, 249, 187, 124, 61);
    }

    @Test
    void linspaceIsFractionalForEulerAndRoundedForDdim() {
        assertThat(timesteps(TimestepSpacing.LINSPACE, 1, SpacingConvention.EULER, 5)).containsExactly(999, 749.25f, 499.5f, 249.75f, 0);
        assertThat(timesteps(TimestepSpacing.LINSPACE, 1, SpacingConvention.DDIM, 5)).containsExactly(999, 749, 500, 250, 0);
    }

    @Test
    void dpmSolverSpacesOneExtraPointAndDropsTheLowest() {
        assertThat(timesteps(TimestepSpacing.LINSPACE, 1, SpacingConvention.DPM_SOLVER, 5)).containsExactly(999, 799, 599, 400, 200);
        assertThat(timesteps(TimestepSpacing.LEADING, 1, SpacingConvention.DPM_SOLVER, 5)).containsExactly(831, 665, 499, 333, 167);
        assertThat(timesteps(TimestepSpacing.TRAILING, 1, SpacingConvention.DPM_SOLVER, 4)).containsExactly(999, 749, 499, 249);
    }

    @Test
    void oneStepSchedules() {
        assertThat(timesteps(TimestepSpacing.LINSPACE, 0, SpacingConvention.EULER, 1)).containsExactly(0);
        assertThat(timesteps(TimestepSpacing.TRAILING, 0, SpacingConvention.EULER, 1)).containsExactly(999);
        assertThat(new KarrasSchedule(SD).build(1).sigmas()).containsExactly(SD.trainSigma(999), 0f);
        assertThat(new FlowMatchSchedule(FlowShift.fixed(1.0), 1000, 0).build(1).sigmas()).containsExactly(1f, 0f);
    }

    @Test
    void spacedSigmasInterpolateTheTrainingTable() {
        Schedule s = new SpacedSchedule(SD, TimestepSpacing.LINSPACE, 0, SpacingConvention.EULER, false).build(5);
        float[] sigmas = s.sigmas();
        assertThat(sigmas[0]).isEqualTo(SD.trainSigma(999));
        assertThat(sigmas[4]).isEqualTo(SD.trainSigma(0));
        // t = 499.5 lies halfway between two training steps
        assertThat((double) sigmas[2]).isCloseTo((SD.trainSigma(499) + (double) SD.trainSigma(500)) / 2, within(1e-6));
        assertThat(sigmas[5]).isZero();
        assertThat(new SpacedSchedule(SD, TimestepSpacing.LEADING, 1, SpacingConvention.DDIM, true).build(5).sigmas()[5])
                .isEqualTo(SD.trainSigma(0));
    }

    @Test
    void karrasSpansTheTrainingSigmasEvenlyInSigmaToTheOneOverRho() {
        int n = 12;
        float[] sigmas = new KarrasSchedule(SD).build(n).sigmas();
        float[] timesteps = new KarrasSchedule(SD).build(n).timesteps();
        assertThat(sigmas[0]).isEqualTo(SD.trainSigma(999));
        assertThat(sigmas[n - 1]).isEqualTo(SD.trainSigma(0));
        assertThat(sigmas[n]).isZero();
        assertThat(timesteps[0]).isEqualTo(999);
        assertThat(timesteps[n - 1]).isEqualTo(0);
        double first = Math.pow(sigmas[0], 1 / KarrasSchedule.RHO), last = Math.pow(sigmas[n - 1], 1 / KarrasSchedule.RHO);
        for (int i = 0; i < n; i++) {
            assertThat(Math.pow(sigmas[i], 1 / KarrasSchedule.RHO)).isCloseTo(first + i * (last - first) / (n - 1), within(1e-6));
            assertThat(timesteps[i]).isEqualTo((float) Math.rint(timesteps[i]));
            // the timestep's own training sigma brackets the Karras sigma within one training step
            int t = (int) timesteps[i];
            assertThat(sigmas[i]).isBetween(SD.trainSigma(Math.max(t - 1, 0)), SD.trainSigma(Math.min(t + 1, 999)));
        }
    }

    @Test
    void timestepOfSigmaInvertsTheTable() {
        for (int t : new int[] {0, 1, 250, 500, 998, 999}) {
            assertThat(SD.timestepOf(SD.trainSigma(t))).isCloseTo(t, within(1e-3));
        }
        double between = Math.exp((Math.log(SD.trainSigma(300)) + Math.log(SD.trainSigma(301))) / 2);
        assertThat(SD.timestepOf(between)).isCloseTo(300.5, within(1e-3));
    }

    @Test
    void flowShiftFormulas() {
        float[] plain = new FlowMatchSchedule(FlowShift.fixed(1.0), 1000, 0).build(4).sigmas();
        assertThat(plain).containsExactly(1f, 0.75f, 0.5f, 0.25f, 0f);
        float[] shifted = new FlowMatchSchedule(FlowShift.fixed(3.0), 1000, 0).build(4).sigmas();
        assertThat(shifted[2]).isEqualTo((float) (3 * 0.5 / (1 + 2 * 0.5)));
        assertThat(new FlowMatchSchedule(FlowShift.fixed(1.0), 1000, 0).build(4).timesteps()).containsExactly(1000, 750, 500, 250);
    }

    /** The fixtures README: 16 tokens give mu = 0.459375, 1024x1024 (4096 tokens) gives 1.15. */
    @Test
    void dynamicShiftGrowsWithTheImage() {
        FlowShift dev = FlowShift.fluxDynamic();
        assertThat(dev.mu(16)).isCloseTo(0.459375, within(1e-12));
        assertThat(dev.mu(4096)).isCloseTo(1.15, within(1e-12));
        float[] small = new FlowMatchSchedule(dev, 1000, 16).build(4).sigmas();
        float[] large = new FlowMatchSchedule(dev, 1000, 4096).build(4).sigmas();
        double e = Math.exp(dev.mu(4096));
        assertThat(large[2]).isEqualTo((float) (e / (e + (1 / 0.5 - 1))));
        assertThat(small[0]).isEqualTo(1f);
        assertThat(large[1]).isGreaterThan(small[1]);
        assertThat(large[4]).isZero();
    }
}
