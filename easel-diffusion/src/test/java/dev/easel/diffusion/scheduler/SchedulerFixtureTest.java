package dev.easel.diffusion.scheduler;

import com.fasterxml.jackson.databind.JsonNode;
import dev.easel.diffusion.convert.DiffusersFolder;
import dev.easel.diffusion.convert.LdmVaeNames;
import dev.easel.diffusion.convert.StableDiffusionSingleFile;
import dev.easel.diffusion.fixtures.FixtureCase;
import dev.easel.diffusion.noise.RecordedNoise;
import dev.easel.engine.tensor.FloatTensor;
import dev.easel.engine.weights.SafetensorsFile;
import dev.easel.engine.weights.WeightSource;
import org.junit.jupiter.api.DynamicContainer;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

import java.nio.FloatBuffer;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;

import static dev.easel.diffusion.scheduler.Close.assertClose;
import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Every recorded case with a scheduler: the scheduler is built from the manifest's scheduler class and config the
 * way a pipeline builds it from a diffusers folder, then checked stage by stage against the recording: timesteps,
 * sigmas, start latents, and each step (model input, latents after the step, x0 estimate), each step from the
 * recorded latents of the step before.
 */
class SchedulerFixtureTest {
    /** Per-step latents and model inputs, relative (max|a-b| / max|b|), as the fixtures README's float64 runs bound. */
    static final double STEP_TOLERANCE = 1e-5;
    /** Schedule scalars (sigmas, fractional timesteps), relative. */
    static final double SCALAR_TOLERANCE = 1e-6;

    /** A scheduler as a pipeline makes it for the case. */
    record Run(Scheduler scheduler, SchedulerSettings settings, SamplerKind kind) {
    }

    static Run build(FixtureCase c) {
        String className = c.scheduler().path("class").asText();
        JsonNode config = c.scheduler().path("config");
        SamplerKind kind = DiffusersSchedulerConfig.samplerKind(className, config);
        SchedulerSettings settings = DiffusersSchedulerConfig.settings(className, config);
        if (c.manifest().path("family").asText().equals("flux")) {
            // What the Flux pipeline adds: its transformer takes timestep / 1000, and the image's packed token
            // count sets a dynamic shift.
            settings = settings.withTimestepDivisor(1000f).withImageTokens((int) c.tensor(modelInputName(c, 0)).dim(1));
        }
        int steps = c.params().path("steps").asInt();
        return new Run(Schedulers.create(kind, settings, steps, c.strength()), settings, kind);
    }

    /** Every case whose manifest records a scheduler. */
    static List<FixtureCase> casesWithScheduler() {
        return FixtureCase.all().stream().filter(c -> c.scheduler().isObject()).toList();
    }

    @Test
    void fixturesHaveCasesWithSchedulers() {
        assertThat(casesWithScheduler()).isNotEmpty();
    }

    @TestFactory
    Stream<DynamicContainer> everyCaseWithAScheduler() {
        return casesWithScheduler().stream().map(c -> DynamicContainer.dynamicContainer(c.toString(), Stream.of(
                DynamicTest.dynamicTest("timesteps", () -> checkTimesteps(c)),
                DynamicTest.dynamicTest("sigmas", () -> checkSigmas(c)),
                DynamicTest.dynamicTest("start latents", () -> checkStartLatents(c)),
                DynamicTest.dynamicTest("every step", () -> checkSteps(c)))));
    }

    static void checkTimesteps(FixtureCase c) {
        Run run = build(c);
        Scheduler s = run.scheduler();
        JsonNode calls = c.manifest().path("model_calls");
        assertThat(s.stepCount()).as("steps run").isEqualTo(calls.size());
        JsonNode all = c.scheduler().path("timesteps_after_set");
        int start = all.size() - s.stepCount();
        JsonNode rule = c.manifest().path("strength_rule");
        if (rule.has("t_start")) assertThat(start).as("t_start").isEqualTo(rule.path("t_start").asInt());
        for (int i = 0; i < s.stepCount(); i++) {
            double full = all.get(start + i).asDouble();
            double given = calls.get(i).path("timestep").asDouble();
            float ours = s.timestep(i);
            if (full == Math.rint(full)) {
                assertThat(ours * run.settings().timestepDivisor()).as("timestep %d", i).isEqualTo((float) full);
            } else {
                assertClose("timestep " + i, ours * run.settings().timestepDivisor(), full, SCALAR_TOLERANCE);
            }
            assertClose("denoiser timestep " + i, ours, given, SCALAR_TOLERANCE);
            if (c.has("step" + i + ".model_in.timestep")) {
                assertThat(ours).as("recorded model_in.timestep %d", i).isEqualTo(c.tensor("step" + i + ".model_in.timestep").data()[0]);
            }
        }
        for (JsonNode step : c.scheduler().path("steps")) {
            int k = step.path("step").asInt();
            assertClose("steps[" + k + "].timestep", s.timestep(k) * run.settings().timestepDivisor(),
                    step.path("timestep").asDouble(), SCALAR_TOLERANCE);
        }
    }

    static void checkSigmas(FixtureCase c) {
        Run run = build(c);
        Scheduler s = run.scheduler();
        JsonNode sched = c.scheduler();
        int n = c.params().path("steps").asInt();
        int start = n - s.stepCount();
        if (sched.has("sigmas_after_set")) {
            JsonNode sigmas = sched.path("sigmas_after_set");
            assertThat(sigmas.size()).isEqualTo(n + 1);
            for (int i = 0; i <= s.stepCount(); i++) {
                assertClose("sigma " + i, s.sigma(i), sigmas.get(start + i).asDouble(), SCALAR_TOLERANCE);
            }
        }
        if (sched.has("alphas_cumprod_at_timesteps")) {
            // DDIM keeps no sigma table; its alphas give the same levels, sigma = sqrt((1 - a) / a).
            JsonNode alphas = sched.path("alphas_cumprod_at_timesteps");
            NoiseSchedule noise = NoiseSchedule.of(run.settings().betas(), run.settings().trainSteps());
            JsonNode timesteps = sched.path("timesteps_after_set");
            for (int i = 0; i < s.stepCount(); i++) {
                float a = (float) alphas.get(start + i).asDouble();
                assertThat(noise.alphaCumprod(timesteps.get(start + i).asInt())).as("alphas_cumprod at step %d", i).isEqualTo(a);
                assertClose("sigma " + i, s.sigma(i), Math.sqrt((1 - a) / (double) a), SCALAR_TOLERANCE);
            }
            double last = (float) sched.path("final_alpha_cumprod").asDouble();
            assertClose("final sigma", s.sigma(s.stepCount()), Math.sqrt((1 - last) / last), SCALAR_TOLERANCE);
        }
        for (JsonNode step : sched.path("steps")) {
            int k = step.path("step").asInt();
            if (step.has("sigma")) assertClose("steps[" + k + "].sigma", s.sigma(k), step.path("sigma").asDouble(), SCALAR_TOLERANCE);
            if (step.has("sigma_next")) {
                assertClose("steps[" + k + "].sigma_next", s.sigma(k + 1), step.path("sigma_next").asDouble(), SCALAR_TOLERANCE);
            }
        }
        assertThat(sched.has("sigmas_after_set") || sched.has("alphas_cumprod_at_timesteps"))
                .as("the manifest records sigmas or alphas").isTrue();
    }

    static void checkStartLatents(FixtureCase c) {
        Scheduler s = build(c).scheduler();
        JsonNode initSigma = c.scheduler().path("init_noise_sigma");
        if (startsFromNoise(c) && initSigma.isNumber()) {
            FloatTensor noise = pipelineNoise(c);
            FloatTensor expected = scaled(noise, (float) initSigma.asDouble());
            assertClose("noise * init_noise_sigma", s.initialLatents(noise), expected, SCALAR_TOLERANCE);
        }
        assertModelInput(c, s, startLatents(c, s), 0);
    }

    static void checkSteps(FixtureCase c) {
        Scheduler s = build(c).scheduler();
        RecordedNoise stepNoise = new RecordedNoise(c.randomDraws("scheduling_"));
        boolean blends = c.has("mask.latent");
        FloatTensor x = startLatents(c, s);
        for (int k = 0; k < s.stepCount(); k++) {
            assertModelInput(c, s, x, k);
            FloatTensor next = s.step(k, x, guidedOutput(c, k, x), stepNoise);
            String after = blends ? "step" + k + ".latents_before_blend" : "step" + k + ".latents";
            assertClose(after, next, c.tensor(after), STEP_TOLERANCE);
            if (c.has("step" + k + ".scheduler.x0_pred")) {
                assertClose("step" + k + " x0", s.lastDenoised(), c.tensor("step" + k + ".scheduler.x0_pred"), STEP_TOLERANCE);
            }
            if (blends) {
                // Inpainting: the original re-noised to the next step's level (clean after the last step) is kept
                // where the mask is 0.
                FloatTensor original = s.addNoise(c.tensor("image_latents"), pipelineNoise(c), k + 1);
                FloatTensor blended = blend(c.tensor("mask.latent"), original, next);
                assertClose("step" + k + ".latents (blended)", blended, c.tensor("step" + k + ".latents"), STEP_TOLERANCE);
            }
            x = c.tensor("step" + k + ".latents");
        }
        assertThat(stepNoise.remaining()).as("recorded step draws left unused").isZero();
    }

    /** The denoiser input at step k must equal each batch entry of the recorded one (CFG repeats the latents). */
    static void assertModelInput(FixtureCase c, Scheduler s, FloatTensor latents, int k) {
        FloatTensor ours = s.scaleModelInput(latents, k);
        FloatTensor recorded = c.tensor(modelInputName(c, k));
        for (int b = 0; b < recorded.dim(0); b++) {
            assertClose("step" + k + " model input [" + b + "]", ours, recorded.slice(b), STEP_TOLERANCE);
        }
    }

    static String modelInputName(FixtureCase c, int k) {
        String unet = "step" + k + ".model_in.sample";
        return c.has(unet) ? unet : "step" + k + ".model_in.hidden_states";
    }

    static boolean startsFromNoise(FixtureCase c) {
        return c.kind().equals("txt2img") || (c.kind().equals("inpaint") && c.strength() == 1f);
    }

    /** The initial noise draw (drawn in the pipeline's prepare_latents), packed like the latents. */
    static FloatTensor pipelineNoise(FixtureCase c) {
        List<FloatTensor> draws = c.randomDraws("prepare_latents");
        assertThat(draws).as("prepare_latents draws").hasSize(1);
        return packedLikeModelInput(c, draws.getFirst());
    }

    /** The latents the first step starts from, as the pipeline computes them. */
    static FloatTensor startLatents(FixtureCase c, Scheduler s) {
        FloatTensor noise = pipelineNoise(c);
        return startsFromNoise(c) ? s.initialLatents(noise) : s.addNoise(imageLatents(c), noise, 0);
    }

    /**
     * The source image's latents: recorded, or computed as the pipeline does from the recorded encoder moments
     * (taken before quant_conv, which SD VAEs apply next) and the posterior-sample draw.
     */
    static FloatTensor imageLatents(FixtureCase c) {
        if (c.has("image_latents")) return packedLikeModelInput(c, c.tensor("image_latents"));
        JsonNode vae = c.vaeConfig();
        FloatTensor moments = c.tensor("vae_encoder.moments");
        if (vae.path("use_quant_conv").asBoolean(true)) moments = quantConv(c, moments);
        FloatTensor eps = c.randomDraws("vae.py:sample").getFirst();
        float scaling = (float) vae.path("scaling_factor").asDouble();
        float shift = (float) vae.path("shift_factor").asDouble(0.0);
        int half = eps.size();
        float[] m = moments.data(), e = eps.data(), out = new float[half];
        // moments = [mean; logvar] on channels; batch 1
        for (int j = 0; j < half; j++) {
            float logvar = Math.clamp(m[half + j], -30f, 20f);
            float std = (float) Math.exp(0.5f * logvar);
            out[j] = (m[j] + std * e[j] - shift) * scaling;
        }
        return packedLikeModelInput(c, new FloatTensor(eps.shape(), out));
    }

    /**
     * The VAE's 1x1 quant_conv over (1, 2C, H, W) moments, with the weights of the case's diffusers folder, or of its
     * single file (the same tensors) where the fixtures hold no folder.
     */
    static FloatTensor quantConv(FixtureCase c, FloatTensor moments) {
        Optional<Path> folder = c.diffusersFolder();
        if (folder.isPresent()) {
            try (WeightSource vae = DiffusersFolder.open(folder.get()).weights("vae")) {
                return quantConv(vae, moments);
            }
        }
        Optional<Path> singleFile = c.singleFile();
        assumeTrue(singleFile.isPresent(), c + ": neither a diffusers folder nor a single file in " + FixtureCase.root());
        try (SafetensorsFile file = SafetensorsFile.open(singleFile.get())) {
            return quantConv(LdmVaeNames.view(file, StableDiffusionSingleFile.VAE_PREFIX), moments);
        }
    }

    private static FloatTensor quantConv(WeightSource vae, FloatTensor moments) {
        FloatBuffer w = vae.float32("quant_conv.weight").asFloatBuffer();
        FloatBuffer b = vae.float32("quant_conv.bias").asFloatBuffer();
        int channels = (int) moments.dim(1), plane = (int) (moments.dim(2) * moments.dim(3));
        float[] in = moments.data(), out = new float[in.length];
        for (int o = 0; o < channels; o++) {
            for (int p = 0; p < plane; p++) {
                float sum = b.get(o);
                for (int i = 0; i < channels; i++) sum += w.get(o * channels + i) * in[i * plane + p];
                out[o * plane + p] = sum;
            }
        }
        return new FloatTensor(moments.shape(), out);
    }

    static FloatTensor packedLikeModelInput(FixtureCase c, FloatTensor unpacked) {
        return c.has(modelInputName(c, 0)) && c.tensor(modelInputName(c, 0)).rank() == 3 && unpacked.rank() == 4
                ? FluxPacking.pack(unpacked) : unpacked;
    }

    /** What the pipeline hands to step k: recorded, or the CFG combination of the recorded model output. */
    static FloatTensor guidedOutput(FixtureCase c, int k, FloatTensor latents) {
        String recorded = "step" + k + ".scheduler.model_output";
        FloatTensor out = c.tensor("step" + k + ".model_out");
        FloatTensor guided = out.dim(0) == 2 * latents.dim(0)
                ? classifierFree(out, (float) c.params().path("guidance").asDouble())
                : out;
        if (c.has(recorded)) {
            FloatTensor expected = c.tensor(recorded);
            assertClose("step" + k + " guided output", guided, expected, SCALAR_TOLERANCE);
            return expected;
        }
        return guided;
    }

    /** uncond + g * (cond - uncond) over the batch [uncond, cond]. */
    static FloatTensor classifierFree(FloatTensor out, float g) {
        float[] u = out.slice(0).data(), t = out.slice(1).data(), r = new float[u.length];
        for (int j = 0; j < r.length; j++) r[j] = u[j] + g * (t[j] - u[j]);
        return new FloatTensor(out.slice(0).shape(), r);
    }

    /** (1 - m) * original + m * latents, the mask broadcast over channels. */
    static FloatTensor blend(FloatTensor mask, FloatTensor original, FloatTensor latents) {
        float[] m = mask.data(), o = original.data(), x = latents.data(), r = new float[x.length];
        int plane = m.length;
        for (int j = 0; j < r.length; j++) {
            float w = m[j % plane];
            r[j] = (1 - w) * o[j] + w * x[j];
        }
        return new FloatTensor(latents.shape(), r);
    }

    static FloatTensor scaled(FloatTensor t, float factor) {
        float[] d = t.data(), r = new float[d.length];
        for (int j = 0; j < r.length; j++) r[j] = d[j] * factor;
        return new FloatTensor(t.shape(), r);
    }
}
