package dev.easel.diffusion.pipeline;

import dev.easel.engine.runtime.WeightMode;
import dev.easel.diffusion.family.ModelFamily;
import dev.easel.diffusion.image.ImageCodec;
import dev.easel.diffusion.image.Mask;
import dev.easel.diffusion.image.RgbImage;
import dev.easel.diffusion.model.vae.VaeCodec;
import dev.easel.diffusion.noise.NoiseSource;
import dev.easel.diffusion.noise.PerRequestNoise;
import dev.easel.diffusion.scheduler.SamplerKind;
import dev.easel.diffusion.scheduler.Scheduler;
import dev.easel.diffusion.scheduler.SchedulerSettings;
import dev.easel.diffusion.scheduler.Schedulers;
import dev.easel.engine.tensor.FloatTensor;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/**
 * Text-to-image, image-to-image and masked edits over latent-space denoisers (SD 1.x, SDXL, FLUX.1): the
 * algorithm is the family-independent part; what differs between families is handed in: the conditioner, the
 * denoiser, the VAE, the latent format (FLUX.1 packs 2x2 patches into tokens), the kind of guidance and the
 * scheduler settings.
 *
 * <p>Random draws are made in the reference pipelines' order so that a seed gives the image diffusers
 * gives for the same seed, and so the fixtures' recorded draws can be injected.
 *
 * <p>Compatible text-to-image requests run as one batch ({@link #generateBatch}): one denoiser call per step
 * for all their images, which is faster than one call per request. Each request still draws from its own
 * generator ({@link PerRequestNoise}) and is conditioned and decoded on its own, so it gets the images it gets
 * alone; a single request is the batch of one.
 */
public final class DiffusionPipeline implements ImagePipeline {
    private final ModelFamily family;
    private final PromptConditioner conditioner;
    private final Denoiser denoiser;
    private final VaeCodec vae;
    private final LatentFormat latentFormat;
    private final Guidance.Kind guidanceKind;
    private final Function<SamplerKind, SchedulerSettings> schedulerSettings;
    private final ModelDefaults defaults;
    private final WeightMode weightMode;

    /**
     * @param guidanceKind      what the model does with a guidance scale
     * @param schedulerSettings the model's training schedule as each sampler runs it
     */
    public DiffusionPipeline(ModelFamily family, PromptConditioner conditioner, Denoiser denoiser, VaeCodec vae,
                             LatentFormat latentFormat, Guidance.Kind guidanceKind,
                             Function<SamplerKind, SchedulerSettings> schedulerSettings, ModelDefaults defaults) {
        this(family, conditioner, denoiser, vae, latentFormat, guidanceKind, schedulerSettings, defaults, WeightMode.FP32);
    }

    /** @param weightMode how the denoiser's (and T5's) big linear layers hold their weights */
    public DiffusionPipeline(ModelFamily family, PromptConditioner conditioner, Denoiser denoiser, VaeCodec vae,
                             LatentFormat latentFormat, Guidance.Kind guidanceKind,
                             Function<SamplerKind, SchedulerSettings> schedulerSettings, ModelDefaults defaults,
                             WeightMode weightMode) {
        this.weightMode = java.util.Objects.requireNonNull(weightMode, "weightMode");
        this.family = family;
        this.conditioner = conditioner;
        this.denoiser = denoiser;
        this.vae = vae;
        this.latentFormat = latentFormat;
        this.guidanceKind = guidanceKind;
        this.schedulerSettings = schedulerSettings;
        this.defaults = defaults;
    }

    @Override
    public ModelFamily family() {
        return family;
    }

    @Override
    public ModelDefaults defaults() {
        return defaults;
    }

    @Override
    public WeightMode weightMode() {
        return weightMode;
    }

    @Override
    public List<List<RgbImage>> generateBatch(List<GenerationRequest> requests, ProgressListener progress) {
        BatchKey.requireCompatible(requests);
        requests.forEach(this::validate);
        long[] seeds = requests.stream().mapToLong(GenerationRequest::seed).toArray();
        return run(requests, progress, PerRequestNoise.seeded(seeds, imageCounts(requests)), PipelineTrace.NONE);
    }

    /**
     * One request with the noise source and trace explicit (tests inject recorded draws); what
     * {@link #generate(GenerationRequest, ProgressListener)} does with {@code new TorchGenerator(seed)}.
     */
    public List<RgbImage> generate(GenerationRequest r, ProgressListener progress, NoiseSource noise, PipelineTrace trace) {
        validate(r);
        return run(List.of(r), progress, noise, trace).getFirst();
    }

    /**
     * The full algorithm over a batch of validated, compatible requests: every request's rows (its
     * {@code imageCount()} images, in request order) go through one model call per step, and {@code noise}
     * gives each request its own draws. Edits come here alone (see {@link BatchKey#of}).
     */
    private synchronized List<List<RgbImage>> run(List<GenerationRequest> requests, ProgressListener progress,
                                                  NoiseSource noise, PipelineTrace trace) {
        GenerationRequest r = requests.getFirst(); // what the batch shares: size, steps, guidance, sampler
        int[] counts = imageCounts(requests);
        int n = java.util.Arrays.stream(counts).sum();
        Guidance guidance = Guidance.of(guidanceKind, r.guidanceScale());
        boolean classifierFree = guidance.classifierFree();
        List<Map<String, FloatTensor>> perRequest = new ArrayList<>();
        for (GenerationRequest q : requests) {
            perRequest.add(conditioner.condition(q.prompt(), q.negativePrompt(), q.imageCount(), guidance, r.width(), r.height(), trace));
        }
        Map<String, FloatTensor> conditioning = Batching.mergeRequests(perRequest, classifierFree);
        float strength = r.initImage().isPresent() ? r.strength() : 1f;
        SamplerKind sampler = SamplerKind.parse(r.sampler());
        Scheduler scheduler;
        try {
            scheduler = Schedulers.create(sampler, settings(sampler, r), r.steps(), strength);
        } catch (IllegalArgumentException e) {
            // steps and strength are checked above: what is left is a sampler this model cannot run
            throw new InvalidRequestException("sampler", e.getMessage());
        }
        long[] latentShape = latentFormat.shape(n, r.width(), r.height());

        FloatTensor latents;
        FloatTensor imageLatents = null;
        FloatTensor startNoise = null;
        FloatTensor latentMask = null;
        if (r.initImage().isPresent()) {
            if (requests.size() != 1) throw new IllegalStateException("edits run alone");
            FloatTensor pixels = Batching.repeat(ImageCodec.toModelInput(r.initImage().get()), n);
            trace.record("vae_encoder.input", pixels);
            Map<String, FloatTensor> encoded = vae.encode(pixels);
            trace.record("vae_encoder.moments", encoded.get("encoder_out"));
            imageLatents = vae.sampleLatents(encoded.get("moments"), noise.next(latentShape));
            trace.record("image_latents", imageLatents);
            startNoise = noise.next(latentShape);
            if (r.mask().isPresent()) {
                latentMask = latentMask(r.mask().get(), n, latentShape);
                if (trace.enabled()) {
                    float[] firstChannel = java.util.Arrays.copyOf(latentMask.data(), (int) (latentShape[2] * latentShape[3]));
                    trace.record("mask.latent", new FloatTensor(new long[]{1, 1, latentShape[2], latentShape[3]}, firstChannel));
                }
                // The reference also encodes the masked image, which a 4-channel UNet never reads; the
                // draw is kept so seeds match, the encoder call is not.
                noise.next(latentShape);
            }
            latents = r.mask().isPresent() && strength >= 1f
                    ? scheduler.initialLatents(startNoise)
                    : scheduler.addNoise(imageLatents, startNoise, 0);
        } else {
            latents = scheduler.initialLatents(noise.next(latentShape));
        }

        int total = scheduler.stepCount();
        for (int i = 0; i < total; i++) {
            FloatTensor modelInput = latentFormat.toDenoiser(scheduler.scaleModelInput(latents, i));
            FloatTensor batch = classifierFree ? FloatTensor.concat(modelInput, modelInput) : modelInput;
            trace.record("step" + i + ".model_in." + denoiser.sampleName(), batch);
            FloatTensor output = denoiser.predict(batch, scheduler.timestep(i), conditioning);
            trace.record("step" + i + ".model_out", output);
            FloatTensor guided = latentFormat.fromDenoiser(
                    classifierFree ? Batching.applyGuidance(output, r.guidanceScale()) : output, latentShape);
            trace.record("step" + i + ".scheduler.model_output", guided);
            latents = scheduler.step(i, latents, guided, noise);
            trace.record("step" + i + ".scheduler.x0_pred", scheduler.lastDenoised());
            if (latentMask != null) {
                trace.record("step" + i + ".latents_before_blend", latents);
                FloatTensor original = i == total - 1 ? imageLatents : scheduler.addNoise(imageLatents, startNoise, i + 1);
                latents = blend(original, latents, latentMask);
            }
            if (trace.enabled()) trace.record("step" + i + ".latents", latentFormat.toDenoiser(latents));
            progress.onStep(i + 1, total, latents);
        }
        // Each request's rows are decoded on their own, as they are when it runs alone: the VAE gains little
        // from a larger batch, and its peak memory stays that of the largest request.
        List<List<RgbImage>> images = new ArrayList<>();
        int row = 0;
        for (int count : counts) {
            images.add(decode(counts.length == 1 ? latents : latents.rows(row, row + count), trace));
            row += count;
        }
        return images;
    }

    /** The model's schedule for a sampler, for this image's size (FLUX.1-dev shifts it with the token count). */
    private SchedulerSettings settings(SamplerKind sampler, GenerationRequest r) {
        return schedulerSettings.apply(sampler).withImageTokens(latentFormat.imageTokens(r.width(), r.height()));
    }

    private static int[] imageCounts(List<GenerationRequest> requests) {
        return requests.stream().mapToInt(GenerationRequest::imageCount).toArray();
    }

    private List<RgbImage> decode(FloatTensor latents, PipelineTrace trace) {
        Map<String, FloatTensor> decoded = vae.decode(vae.unscale(latents));
        trace.record("vae_decoder.input", decoded.get("decoder_input"));
        FloatTensor raw = decoded.get("image");
        trace.record("vae_decoder.output", raw);
        List<RgbImage> images = new ArrayList<>();
        for (int i = 0; i < raw.dim(0); i++) images.add(ImageCodec.fromDecoderOutput(raw, i));
        if (trace.enabled()) {
            RgbImage first = images.getFirst();
            trace.record("image", new FloatTensor(new long[]{first.height(), first.width(), 3}, first.pixels()));
        }
        return images;
    }

    /** Latent mask m[i, j] = mask[8i, 8j] (nearest, top-left pixel of each block), repeated per image. */
    private static FloatTensor latentMask(Mask mask, int n, long[] latentShape) {
        int h = (int) latentShape[2];
        int w = (int) latentShape[3];
        int c = (int) latentShape[1];
        float[] out = new float[n * c * h * w];
        for (int b = 0; b < n; b++) {
            for (int ch = 0; ch < c; ch++) {
                for (int y = 0; y < h; y++) {
                    for (int x = 0; x < w; x++) {
                        out[((b * c + ch) * h + y) * w + x] = mask.get(y * LatentFormat.VAE_SCALE, x * LatentFormat.VAE_SCALE) >= 0.5f ? 1f : 0f;
                    }
                }
            }
        }
        return new FloatTensor(latentShape, out);
    }

    /** (1 - m) * original + m * denoised. */
    private static FloatTensor blend(FloatTensor original, FloatTensor denoised, FloatTensor mask) {
        float[] out = new float[denoised.size()];
        for (int i = 0; i < out.length; i++) {
            float m = mask.data()[i];
            out[i] = (1f - m) * original.data()[i] + m * denoised.data()[i];
        }
        return new FloatTensor(denoised.shape(), out);
    }

    private void validate(GenerationRequest r) {
        if (r.prompt() == null) throw new InvalidRequestException("prompt", "a prompt is required");
        family.sizeProblem(r.width(), r.height()).ifPresent(problem -> {
            throw new InvalidRequestException("size", problem);
        });
        if (r.steps() < 1) throw new InvalidRequestException("steps", "steps must be at least 1, got " + r.steps());
        if (r.imageCount() < 1) throw new InvalidRequestException("n", "n must be at least 1, got " + r.imageCount());
        if (r.initImage().isPresent()) {
            if (!(r.strength() >= 0f && r.strength() <= 1f)) {
                throw new InvalidRequestException("strength", "strength must be within [0, 1], got " + r.strength());
            }
            RgbImage source = r.initImage().get();
            if (source.width() != r.width() || source.height() != r.height()) {
                throw new InvalidRequestException("image", "the image is " + source.width() + "x" + source.height()
                        + " but the requested size is " + r.width() + "x" + r.height());
            }
        }
        if (r.mask().isPresent()) {
            if (r.initImage().isEmpty()) throw new InvalidRequestException("mask", "a mask needs an image to edit");
            if (!family.maskedEdits()) {
                throw new InvalidRequestException("mask", "masked edits are not supported for " + family.displayName()
                        + "; send the image without a mask for image-to-image");
            }
            Mask m = r.mask().get();
            if (m.width() != r.width() || m.height() != r.height()) {
                throw new InvalidRequestException("mask", "the mask is " + m.width() + "x" + m.height()
                        + " but the image is " + r.width() + "x" + r.height());
            }
        }
        SamplerKind kind;
        try {
            kind = SamplerKind.parse(r.sampler());
        } catch (IllegalArgumentException e) {
            throw new InvalidRequestException("sampler", e.getMessage());
        }
        int trainSteps = settings(kind, r).trainSteps();
        if (r.steps() > trainSteps) {
            throw new InvalidRequestException("steps", "steps must be at most " + trainSteps
                    + " (the model's training timesteps), got " + r.steps());
        }
    }

    /** When the VAE decodes in tiles; by default (null) only where the memory available requires it. */
    public synchronized void setVaeTiling(dev.easel.diffusion.model.vae.VaeTiling tiling) {
        vae.setTiling(tiling);
    }

    @Override
    public RgbImage preview(FloatTensor latents, int index) {
        return latentFormat.preview(latents, index);
    }

    @Override
    public long memoryBytes() {
        return conditioner.weightBytes() + denoiser.weightBytes() + vae.weightBytes();
    }

    @Override
    public void close() {
        conditioner.close();
        denoiser.close();
        vae.close();
    }
}
