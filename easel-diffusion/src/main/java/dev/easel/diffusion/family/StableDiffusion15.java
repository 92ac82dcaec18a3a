package dev.easel.diffusion.family;

import com.fasterxml.jackson.databind.JsonNode;
import dev.easel.diffusion.convert.DetectedCheckpoint;
import dev.easel.diffusion.convert.DiffusersFolder;
import dev.easel.diffusion.convert.StableDiffusionSingleFile;
import dev.easel.diffusion.model.ComponentLoader;
import dev.easel.diffusion.model.clip.ClipTextConfig;
import dev.easel.diffusion.model.clip.ClipTextEncoder;
import dev.easel.diffusion.model.unet.UNetConfig;
import dev.easel.diffusion.model.unet.UNetDenoiser;
import dev.easel.diffusion.model.vae.VaeCodec;
import dev.easel.diffusion.model.vae.VaeConfig;
import dev.easel.diffusion.pipeline.DiffusionPipeline;
import dev.easel.diffusion.pipeline.ModelDefaults;
import dev.easel.diffusion.scheduler.DiffusersSchedulerConfig;
import dev.easel.diffusion.scheduler.SamplerKind;
import dev.easel.diffusion.scheduler.SchedulerSettings;
import dev.easel.diffusion.tokenizer.ClipTokenizer;
import dev.easel.engine.runtime.RuntimeOptions;
import dev.easel.engine.weights.WeightSource;

import java.nio.file.Files;
import java.util.function.Function;

/**
 * Stable Diffusion 1.x: CLIP-L conditioning, the SD UNet (8 heads, conv projections), the KL VAE
 * scaled by 0.18215, Euler with leading spacing by default. Loads single-file (LDM) checkpoints and
 * diffusers folders onto the same canonical names.
 */
public final class StableDiffusion15 {
    public static final String FAMILY = "sd15";
    public static final float VAE_SCALING = 0.18215f;
    public static final ModelDefaults DEFAULTS = new ModelDefaults(512, 512, 25, 7.5f, "euler");
    /** Any multiple of 8 works: the UNet upsamples to its skip connections' sizes. */
    public static final int SIZE_MULTIPLE = 8;

    private StableDiffusion15() {
    }

    public static DiffusionPipeline load(DetectedCheckpoint checkpoint, RuntimeOptions requested) {
        // GEMM repacking on: faster, and SD 1.5 still peaks well under 8 GiB at 512x512 (easel bench).
        RuntimeOptions options = requested.prepackOr(true);
        return checkpoint.layout() == DetectedCheckpoint.Layout.SINGLE_FILE
                ? fromSingleFile(checkpoint, options) : fromDiffusersFolder(checkpoint, options);
    }

    private static DiffusionPipeline fromSingleFile(DetectedCheckpoint checkpoint, RuntimeOptions options) {
        StableDiffusionSingleFile file = StableDiffusionSingleFile.open(checkpoint.path());
        ComponentsLoaded built = new ComponentsLoaded();
        try {
            WeightSource text = file.textEncoder();
            WeightSource unet = file.unet();
            WeightSource vae = file.vae();
            // Largest first: while a component loads, its weights are briefly held twice.
            UNetDenoiser denoiser = built.add(new UNetDenoiser(ComponentLoader.inferConfig("unet", unet, UNetConfig::infer), unet, options));
            VaeConfig vaeConfig = ComponentLoader.inferConfig("vae", vae,
                    (names, shapes) -> VaeConfig.infer(names, shapes, VAE_SCALING, 0f));
            VaeCodec codec = built.add(new VaeCodec(vaeConfig, vae, options));
            ClipTokenizer tokenizer = ClipTokenizer.bundled();
            ClipTextConfig textConfig = ComponentLoader.inferConfig("text_encoder", text,
                    (names, shapes) -> ClipTextConfig.infer(names, shapes, true));
            ClipTextEncoder clip = built.add(new ClipTextEncoder(tokenizer, tokenizer.eosId(), textConfig, text, "text_encoder", options));
            return new DiffusionPipeline(FAMILY, new ClipConditioner(clip), denoiser, codec,
                    samplers(SchedulerSettings.sd15(), SamplerKind.EULER), DEFAULTS, SIZE_MULTIPLE);
        } catch (RuntimeException e) {
            throw built.closeAfter(e);
        } finally {
            file.close();
        }
    }

    private static DiffusionPipeline fromDiffusersFolder(DetectedCheckpoint checkpoint, RuntimeOptions options) {
        DiffusersFolder folder = DiffusersFolder.open(checkpoint.path());
        ComponentsLoaded built = new ComponentsLoaded();
        try {
            // Largest first: while a component loads, its weights are briefly held twice.
            UNetDenoiser denoiser;
            try (WeightSource unet = folder.weights("unet")) {
                denoiser = built.add(new UNetDenoiser(UNetConfig.fromDiffusers(folder.config("unet")), unet, options));
            }
            VaeCodec codec;
            try (WeightSource vae = folder.weights("vae")) {
                codec = built.add(new VaeCodec(VaeConfig.fromDiffusers(folder.config("vae")), vae, options));
            }
            ClipTokenizer tokenizer = Files.isDirectory(folder.dir().resolve("tokenizer"))
                    ? ClipTokenizer.fromDiffusersFolder(folder.dir().resolve("tokenizer")) : ClipTokenizer.bundled();
            ClipTextEncoder clip;
            try (WeightSource text = folder.weights("text_encoder")) {
                clip = built.add(new ClipTextEncoder(tokenizer, tokenizer.padId(),
                        ClipTextConfig.fromHuggingFace(folder.config("text_encoder"), false), text, "text_encoder", options));
            }
            return new DiffusionPipeline(FAMILY, new ClipConditioner(clip), denoiser, codec,
                    samplers(folder), DEFAULTS, SIZE_MULTIPLE);
        } catch (RuntimeException e) {
            throw built.closeAfter(e);
        }
    }

    /**
     * The folder's scheduler config as each sampler runs it. Released SD 1.5 folders name PNDM, which we
     * do not run; then the family's settings apply.
     */
    private static Function<SamplerKind, SchedulerSettings> samplers(DiffusersFolder folder) {
        if (folder.components().contains("scheduler")) {
            JsonNode config = folder.config("scheduler");
            String className = config.path("_class_name").asText();
            try {
                return samplers(DiffusersSchedulerConfig.settings(className, config),
                        DiffusersSchedulerConfig.samplerKind(className, config));
            } catch (IllegalArgumentException notOneWeRun) {
                // fall through to the family's settings
            }
        }
        return samplers(SchedulerSettings.sd15(), SamplerKind.EULER);
    }

    /**
     * The configured sampler runs exactly as configured; switching to another sampler keeps the training
     * schedule but lets that sampler use its own default timestep spacing, as diffusers' {@code from_config}
     * does from the standard SD 1.5 config (this is what the A1111 names "Euler a", "DDIM", "DPM++ 2M Karras"
     * mean for SD 1.5).
     */
    private static Function<SamplerKind, SchedulerSettings> samplers(SchedulerSettings configured, SamplerKind configuredKind) {
        return kind -> kind == configuredKind ? configured : configured.withSpacing(null);
    }
}
