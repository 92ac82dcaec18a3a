package dev.easel.diffusion.family;

import com.fasterxml.jackson.databind.JsonNode;
import dev.easel.diffusion.convert.DetectedCheckpoint;
import dev.easel.diffusion.convert.DiffusersFolder;
import dev.easel.diffusion.convert.StableDiffusionXLSingleFile;
import dev.easel.diffusion.model.ComponentLoader;
import dev.easel.diffusion.model.clip.ClipTextConfig;
import dev.easel.diffusion.model.clip.ClipTextEncoder;
import dev.easel.diffusion.model.unet.UNetConfig;
import dev.easel.diffusion.model.unet.UNetDenoiser;
import dev.easel.diffusion.model.vae.VaeCodec;
import dev.easel.diffusion.model.vae.VaeConfig;
import dev.easel.diffusion.pipeline.DiffusionPipeline;
import dev.easel.diffusion.pipeline.Guidance;
import dev.easel.diffusion.pipeline.LatentFormat;
import dev.easel.diffusion.pipeline.ModelDefaults;
import dev.easel.diffusion.scheduler.DiffusersSchedulerConfig;
import dev.easel.diffusion.scheduler.SamplerKind;
import dev.easel.diffusion.scheduler.SchedulerSettings;
import dev.easel.diffusion.scheduler.TimestepSpacing;
import dev.easel.diffusion.tokenizer.ClipTokenizer;
import dev.easel.engine.runtime.RuntimeOptions;
import dev.easel.engine.runtime.WeightMode;
import dev.easel.engine.weights.WeightSource;
import dev.easel.engine.weights.WeightsException;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.function.Function;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Stable Diffusion XL: CLIP-L and OpenCLIP-G conditioning ({@link DualClipConditioner}), the SDXL UNet (linear
 * transformer projections, 64 channels per head, transformer depth per level, the added text/time embedding)
 * and the KL VAE scaled by 0.13025. Loads single-file (SGM) checkpoints and diffusers folders onto the same
 * canonical names; image-to-image and masked edits run on the ordinary 4-channel UNet. Images are decoded whole
 * where the memory available allows it (SDXL's own 1024x1024 needs about 3.2 GiB more), else in blended tiles
 * ({@link dev.easel.diffusion.model.vae.VaeTiling#forAvailableMemory}, logged).
 *
 * <p>Defaults. A checkpoint cannot say whether it is a base model or a step-distilled one, so an SDXL base recipe
 * applies (1024x1024, 30 Euler steps, guidance 5) unless the file or folder name says "lightning": SDXL
 * Lightning's own files are named {@code sdxl_lightning_Nstep*.safetensors}, and run with N Euler steps on
 * trailing timesteps and no guidance, so such a name gets that recipe (N = 2, 4 or 8; 4 otherwise, as the
 * 1-step model predicts x0 and is not supported). Callers (the catalog, API requests, the CLI) override any
 * of it.
 *
 * <p>Schedules. A single file carries no scheduler config: Euler on the SDXL training schedule with trailing
 * timesteps (what Lightning needs, and for a base model at 20-50 steps no worse than diffusers' "leading"). A
 * diffusers folder runs its own scheduler config with whatever sampler is asked for (diffusers' {@code from_config}
 * keeps its {@code timestep_spacing}); Lightning-named folders get trailing spacing.
 */
public final class StableDiffusionXL {
    private static final System.Logger LOG = System.getLogger(StableDiffusionXL.class.getName());

    public static final float VAE_SCALING = 0.13025f;
    public static final ModelDefaults BASE_DEFAULTS = ModelFamily.SDXL.defaults();
    public static final int LIGHTNING_STEPS = 4;
    private static final Pattern LIGHTNING_STEP_COUNT = Pattern.compile("(\\d+)[-_ ]?steps?");

    private StableDiffusionXL() {
    }

    /** SDXL Lightning's recipe: {@code steps} Euler steps on trailing timesteps, no guidance, 1024x1024. */
    public static ModelDefaults lightningDefaults(int steps) {
        return BASE_DEFAULTS.withSteps(steps).withGuidanceScale(0f).withSampler("euler");
    }

    /** Whether a checkpoint's file or folder name marks it as SDXL Lightning. */
    public static boolean isLightningName(Path checkpoint) {
        Path name = checkpoint.toAbsolutePath().normalize().getFileName();
        return name != null && name.toString().toLowerCase(Locale.ROOT).contains("lightning");
    }

    /** The recipe a checkpoint runs with when nothing else is asked for (see the class comment). */
    public static ModelDefaults defaultsFor(Path checkpoint) {
        if (!isLightningName(checkpoint)) return BASE_DEFAULTS;
        Matcher m = LIGHTNING_STEP_COUNT.matcher(checkpoint.toAbsolutePath().normalize().getFileName().toString().toLowerCase(Locale.ROOT));
        int steps = LIGHTNING_STEPS;
        if (m.find()) {
            int named = Integer.parseInt(m.group(1));
            if (named == 2 || named == 4 || named == 8) steps = named;
        }
        return lightningDefaults(steps);
    }

    /** Opens an SDXL checkpoint (single file or diffusers folder) as {@link StableDiffusionParts}. */
    public static StableDiffusionParts open(DetectedCheckpoint checkpoint) {
        return checkpoint.layout() == DetectedCheckpoint.Layout.SINGLE_FILE
                ? openSingleFile(checkpoint.path()) : openDiffusersFolder(checkpoint.path());
    }

    private static StableDiffusionParts openSingleFile(Path path) {
        StableDiffusionXLSingleFile file = StableDiffusionXLSingleFile.open(path);
        try {
            WeightSource l = file.textEncoder();
            WeightSource g = file.textEncoder2();
            WeightSource unet = file.unet();
            WeightSource vae = file.vae();
            ClipTextConfig clipL = ComponentLoader.inferConfig("text_encoder", l, (names, shapes) -> ClipTextConfig.infer(names, shapes, true));
            ClipTextConfig clipG = ComponentLoader.inferConfig("text_encoder_2", g, (names, shapes) -> ClipTextConfig.infer(names, shapes, false));
            if (clipG.projectionDim() <= 0) {
                throw new WeightsException(path + ": text_encoder_2 weights are incomplete: the OpenCLIP text encoder has no "
                        + StableDiffusionXLSingleFile.TEXT_ENCODER_2_PREFIX + "text_projection (needed for the pooled text embedding)");
            }
            ClipTokenizer tokenizer = ClipTokenizer.bundled();
            ModelDefaults defaults = defaultsFor(path);
            SchedulerSettings settings = SchedulerSettings.sdxl();
            ClipTokenizer tokenizer2 = tokenizer.withPadToken("!");
            return new StableDiffusionParts(List.of(
                    new StableDiffusionParts.TextEncoder("text_encoder", tokenizer, tokenizer.padId(), clipL),
                    new StableDiffusionParts.TextEncoder("text_encoder_2", tokenizer2, tokenizer2.padId(), clipG)),
                    ComponentLoader.inferConfig("unet", unet, (names, shapes) -> UNetConfig.infer(names, shapes, clipG.projectionDim())),
                    ComponentLoader.inferConfig("vae", vae, (names, shapes) -> VaeConfig.infer(names, shapes, VAE_SCALING, 0f)),
                    kind -> settings, defaults,
                    component -> switch (component) {
                        case "text_encoder" -> l;
                        case "text_encoder_2" -> g;
                        case "unet" -> unet;
                        case "vae" -> vae;
                        default -> throw new IllegalArgumentException("an SDXL checkpoint has no component " + component);
                    }, file::close);
        } catch (RuntimeException e) {
            file.close();
            throw e;
        }
    }

    private static StableDiffusionParts openDiffusersFolder(Path path) {
        DiffusersFolder folder = DiffusersFolder.open(path);
        ClipTokenizer tokenizer = Files.isDirectory(folder.dir().resolve("tokenizer"))
                ? ClipTokenizer.fromDiffusersFolder(folder.dir().resolve("tokenizer")) : ClipTokenizer.bundled();
        ClipTokenizer tokenizer2 = Files.isDirectory(folder.dir().resolve("tokenizer_2"))
                ? ClipTokenizer.fromDiffusersFolder(folder.dir().resolve("tokenizer_2")) : ClipTokenizer.bundled().withPadToken("!");
        ClipTextConfig clipG = ClipTextConfig.fromHuggingFace(folder.config("text_encoder_2"), true);
        FolderScheduler scheduler = FolderScheduler.of(folder, SchedulerSettings.sdxl());
        SchedulerSettings settings = scheduler.settings();
        ModelDefaults defaults = defaultsFor(path);
        if (isLightningName(path)) {
            settings = settings.withSpacing(TimestepSpacing.TRAILING);
        } else {
            defaults = defaults.withSampler(scheduler.sampler().apiName());
        }
        SchedulerSettings chosen = settings;
        return new StableDiffusionParts(List.of(
                new StableDiffusionParts.TextEncoder("text_encoder", tokenizer, tokenizer.padId(),
                        ClipTextConfig.fromHuggingFace(folder.config("text_encoder"), false)),
                new StableDiffusionParts.TextEncoder("text_encoder_2", tokenizer2, tokenizer2.padId(), clipG)),
                UNetConfig.fromDiffusers(folder.config("unet")), VaeConfig.fromDiffusers(folder.config("vae")),
                kind -> chosen, defaults, folder::weights, Owned.NOTHING);
    }

    /**
     * Loads the pipeline: UNet, text encoders and VAE (both halves), largest first, as while a component loads its
     * weights are briefly held twice. The checkpoint is closed once they are loaded.
     *
     * <p>Memory, where the weights are quantized (memory is what the user is short of): the two text encoders (fp32,
     * about half of an int8 SDXL's weights) are loaded only while they encode ({@link EncoderSlot}: those loaded now
     * serve the first prompt), and the UNet and the VAE free their activations after each run instead of keeping them
     * in ONNX Runtime's arena, so that the 1024x1024 decode (about 3 GiB, measured) has the memory the step used.
     */
    public static DiffusionPipeline load(DetectedCheckpoint checkpoint, ModelFiles files, RuntimeOptions requested) {
        // No GEMM repacking by default: SDXL's 10 GB of fp32 UNet weights would be held twice while loading,
        // and peak RSS at 1024x1024 stays under 16 GiB only without it (measured with easel bench).
        // fp32 unless asked. With int8/int4 the UNet prepacks (its quantized kernels need it); the text encoders and
        // the VAE hold no quantized layers and keep the family's choice.
        RuntimeOptions chosen = requested.weightsOr(WeightMode.FP32);
        RuntimeOptions options = chosen.prepackOr(false);
        RuntimeOptions fp32Parts = chosen.withWeights(WeightMode.FP32).prepackOr(false);
        boolean release = options.weightMode().quantized();
        ComponentsLoaded built = new ComponentsLoaded();
        try (StableDiffusionParts parts = open(checkpoint)) {
            UNetDenoiser denoiser = built.add(parts.loadUNet(options.activationArenaOr(!release)));
            DualClipConditioner.Encoders encoders = built.add(loadTextEncoders(parts, fp32Parts));
            VaeCodec codec = built.add(parts.loadVae(fp32Parts.activationArenaOr(!release)));
            EncoderSlot<DualClipConditioner.Encoders> text;
            if (release) {
                text = EncoderSlot.onDemand(encoders, () -> reloadTextEncoders(checkpoint, fp32Parts), encoders.weightBytes());
                LOG.log(System.Logger.Level.INFO, "the SDXL model {0}: its text encoders are loaded to encode each prompt and closed after it",
                        checkpoint.path());
            } else {
                text = EncoderSlot.kept(encoders, encoders.weightBytes());
            }
            return new DiffusionPipeline(ModelFamily.SDXL, new DualClipConditioner(text), denoiser, codec,
                    LatentFormat.spatial((int) parts.vae().latentChannels()), Guidance.Kind.CLASSIFIER_FREE,
                    parts.samplers(), parts.defaults(), options.weightMode());
        } catch (RuntimeException e) {
            throw built.closeAfter(e);
        }
    }

    /** CLIP-L and OpenCLIP-G, the larger first. */
    private static DualClipConditioner.Encoders loadTextEncoders(StableDiffusionParts parts, RuntimeOptions options) {
        ComponentsLoaded loaded = new ComponentsLoaded();
        try {
            ClipTextEncoder clipG = loaded.add(parts.loadTextEncoder(parts.textEncoders().get(1), options));
            ClipTextEncoder clipL = loaded.add(parts.loadTextEncoder(parts.textEncoders().get(0), options));
            return new DualClipConditioner.Encoders(clipL, clipG);
        } catch (RuntimeException e) {
            throw loaded.closeAfter(e);
        }
    }

    private static DualClipConditioner.Encoders reloadTextEncoders(DetectedCheckpoint checkpoint, RuntimeOptions options) {
        try (StableDiffusionParts parts = open(checkpoint)) {
            return loadTextEncoders(parts, options);
        }
    }
}
