package dev.easel.diffusion.family;

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
import dev.easel.diffusion.pipeline.Guidance;
import dev.easel.diffusion.pipeline.LatentFormat;
import dev.easel.diffusion.scheduler.SamplerKind;
import dev.easel.diffusion.scheduler.SchedulerSettings;
import dev.easel.diffusion.tokenizer.ClipTokenizer;
import dev.easel.engine.runtime.RuntimeOptions;
import dev.easel.engine.runtime.WeightMode;
import dev.easel.engine.weights.WeightSource;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.function.Function;

/**
 * Stable Diffusion 1.x: CLIP-L conditioning, the SD UNet (8 heads, conv projections), the KL VAE
 * scaled by 0.18215, Euler with leading spacing by default. Loads single-file (LDM) checkpoints and
 * diffusers folders onto the same canonical names.
 */
public final class StableDiffusion15 {
    public static final float VAE_SCALING = 0.18215f;

    private StableDiffusion15() {
    }

    /** Opens an SD 1.x checkpoint (single file or diffusers folder) as {@link StableDiffusionParts}. */
    public static StableDiffusionParts open(DetectedCheckpoint checkpoint) {
        return checkpoint.layout() == DetectedCheckpoint.Layout.SINGLE_FILE
                ? openSingleFile(checkpoint.path()) : openDiffusersFolder(checkpoint.path());
    }

    private static StableDiffusionParts openSingleFile(Path path) {
        StableDiffusionSingleFile file = StableDiffusionSingleFile.open(path);
        try {
            WeightSource text = file.textEncoder();
            WeightSource unet = file.unet();
            WeightSource vae = file.vae();
            ClipTokenizer tokenizer = ClipTokenizer.bundled();
            ClipTextConfig textConfig = ComponentLoader.inferConfig("text_encoder", text,
                    (names, shapes) -> ClipTextConfig.infer(names, shapes, true));
            return new StableDiffusionParts(
                    List.of(new StableDiffusionParts.TextEncoder("text_encoder", tokenizer, tokenizer.eosId(), textConfig)),
                    ComponentLoader.inferConfig("unet", unet, UNetConfig::infer),
                    ComponentLoader.inferConfig("vae", vae, (names, shapes) -> VaeConfig.infer(names, shapes, VAE_SCALING, 0f)),
                    samplers(SchedulerSettings.sd15(), SamplerKind.EULER), ModelFamily.SD15.defaults(),
                    component -> switch (component) {
                        case "text_encoder" -> text;
                        case "unet" -> unet;
                        case "vae" -> vae;
                        default -> throw new IllegalArgumentException("an SD 1.x checkpoint has no component " + component);
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
        FolderScheduler scheduler = FolderScheduler.of(folder, SchedulerSettings.sd15());
        return new StableDiffusionParts(
                List.of(new StableDiffusionParts.TextEncoder("text_encoder", tokenizer, tokenizer.padId(),
                        ClipTextConfig.fromHuggingFace(folder.config("text_encoder"), false))),
                UNetConfig.fromDiffusers(folder.config("unet")), VaeConfig.fromDiffusers(folder.config("vae")),
                samplers(scheduler.settings(), scheduler.sampler()), ModelFamily.SD15.defaults(), folder::weights, Owned.NOTHING);
    }

    public static DiffusionPipeline load(DetectedCheckpoint checkpoint, ModelFiles files, RuntimeOptions requested) {
        // GEMM repacking on: faster, and SD 1.5 still peaks well under 8 GiB at 512x512 (easel bench).
        // fp32 unless asked: SD 1.5 fits everywhere; quantized weights prepack whatever the family's choice.
        RuntimeOptions options = requested.weightsOr(WeightMode.FP32).prepackOr(true);
        ComponentsLoaded built = new ComponentsLoaded();
        try (StableDiffusionParts parts = open(checkpoint)) {
            // Largest first: while a component loads, its weights are briefly held twice.
            UNetDenoiser denoiser = built.add(parts.loadUNet(options));
            VaeCodec codec = built.add(parts.loadVae(options));
            ClipTextEncoder clip = built.add(parts.loadTextEncoder(parts.textEncoders().getFirst(), options));
            return new DiffusionPipeline(ModelFamily.SD15, new ClipConditioner(clip), denoiser, codec,
                    LatentFormat.spatial((int) parts.vae().latentChannels()), Guidance.Kind.CLASSIFIER_FREE,
                    parts.samplers(), parts.defaults(), options.weightMode());
        } catch (RuntimeException e) {
            throw built.closeAfter(e);
        }
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
