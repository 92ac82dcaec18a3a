package dev.easel.diffusion.scheduler;

import dev.easel.diffusion.noise.NoiseSource;
import dev.easel.engine.tensor.FloatTensor;

import java.util.Arrays;

/** A {@link Scheduler} put together from the three axes: a schedule, a parameterization and a sampler. */
final class SchedulerRun implements Scheduler {
    private final Schedule schedule;
    private final int start;
    private final LatentSpace space;
    private final Parameterization parameterization;
    private final Sampler sampler;
    private final float initNoiseSigma;
    private final float timestepDivisor;
    private int nextStep;
    private FloatTensor lastDenoised;

    SchedulerRun(Schedule schedule, int start, LatentSpace space, Parameterization parameterization, Sampler sampler,
                 float initNoiseSigma, float timestepDivisor) {
        this.schedule = schedule;
        this.start = start;
        this.space = space;
        this.parameterization = parameterization;
        this.sampler = sampler;
        this.initNoiseSigma = initNoiseSigma;
        this.timestepDivisor = timestepDivisor;
    }

    @Override
    public int stepCount() {
        return schedule.steps() - start;
    }

    @Override
    public float timestep(int i) {
        checkStep(i);
        return schedule.timestep(start + i) / timestepDivisor;
    }

    @Override
    public float sigma(int i) {
        checkLevel(i);
        return schedule.sigma(start + i);
    }

    @Override
    public FloatTensor scaleModelInput(FloatTensor x, int i) {
        float divisor = level(i).inputDivisor();
        if (divisor == 1f) return x;
        float[] xs = x.data(), r = new float[xs.length];
        for (int j = 0; j < r.length; j++) r[j] = xs[j] / divisor;
        return new FloatTensor(x.shape(), r);
    }

    @Override
    public FloatTensor initialLatents(FloatTensor noise) {
        float[] n = noise.data(), r = new float[n.length];
        for (int j = 0; j < r.length; j++) r[j] = n[j] * initNoiseSigma;
        return new FloatTensor(noise.shape(), r);
    }

    @Override
    public FloatTensor addNoise(FloatTensor clean, FloatTensor noise, int i) {
        checkLevel(i);
        if (!Arrays.equals(clean.shape(), noise.shape())) {
            throw new IllegalArgumentException("noise shape " + Arrays.toString(noise.shape())
                    + " does not match the latents " + Arrays.toString(clean.shape()));
        }
        if (i == stepCount()) return clean.copy();
        NoiseLevel l = level(i);
        float a = l.alpha(), s = l.sigma();
        float[] c = clean.data(), n = noise.data(), r = new float[c.length];
        for (int j = 0; j < r.length; j++) r[j] = a * c[j] + s * n[j];
        return new FloatTensor(clean.shape(), r);
    }

    @Override
    public FloatTensor step(int i, FloatTensor x, FloatTensor guidedModelOutput, NoiseSource noise) {
        checkStep(i);
        if (i != nextStep) {
            throw new IllegalStateException("steps run in order: expected step " + nextStep + ", got " + i);
        }
        Prediction prediction = new Prediction(x, guidedModelOutput, level(i), parameterization);
        FloatTensor next = sampler.step(prediction, level(i + 1), i == stepCount() - 1, noise);
        lastDenoised = prediction.denoised();
        nextStep++;
        return next;
    }

    @Override
    public FloatTensor lastDenoised() {
        if (lastDenoised == null) throw new IllegalStateException("no step has run yet");
        return lastDenoised;
    }

    private NoiseLevel level(int i) {
        return space.level(sigma(i));
    }

    private void checkStep(int i) {
        if (i < 0 || i >= stepCount()) {
            throw new IndexOutOfBoundsException("step " + i + " outside [0, " + stepCount() + ")");
        }
    }

    private void checkLevel(int i) {
        if (i < 0 || i > stepCount()) {
            throw new IndexOutOfBoundsException("step " + i + " outside [0, " + stepCount() + "]");
        }
    }
}
