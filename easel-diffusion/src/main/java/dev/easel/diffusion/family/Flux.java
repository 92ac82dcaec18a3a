package dev.easel.diffusion.family;

import dev.easel.diffusion.convert.DetectedCheckpoint;
import dev.easel.diffusion.convert.DiffusersFolder;
import dev.easel.diffusion.convert.FluxFiles;
import dev.easel.diffusion.model.ComponentLoader;
import dev.easel.diffusion.model.clip.ClipTextConfig;
import dev.easel.diffusion.model.clip.ClipTextEncoder;
import dev.easel.diffusion.model.flux.FluxConfig;
import dev.easel.diffusion.model.flux.FluxDenoiser;
import dev.easel.diffusion.model.flux.FluxTransformer;
import dev.easel.diffusion.model.t5.T5Config;
import dev.easel.diffusion.model.t5.T5Encoder;
import dev.easel.diffusion.model.t5.T5TextEncoder;
import dev.easel.diffusion.model.vae.VaeCodec;
import dev.easel.diffusion.model.vae.VaeConfig;
import dev.easel.diffusion.pipeline.DiffusionPipeline;
import dev.easel.diffusion.pipeline.Guidance;
import dev.easel.diffusion.pipeline.LatentFormat;
import dev.easel.diffusion.pipeline.ModelDefaults;
import dev.easel.diffusion.scheduler.SchedulerSettings;
import dev.easel.diffusion.tokenizer.ClipTokenizer;
import dev.easel.diffusion.tokenizer.T5Tokenizer;
import dev.easel.engine.runtime.CpuFeatures;
import dev.easel.engine.runtime.Linears;
import dev.easel.engine.runtime.RuntimeOptions;
import dev.easel.engine.runtime.WeightMode;
import dev.easel.engine.weights.WeightSource;
import dev.easel.engine.weights.WeightsException;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.function.Function;

/**
 * FLUX.1: CLIP-L's pooled output and T5's hidden states condition a rectified-flow transformer on 2x2-packed
 * 16-channel latents; no classifier-free guidance. Two variants, told apart by the transformer's guidance
 * embedding: schnell (step-distilled: 4 steps, no guidance, 256 text tokens) and dev (guidance-distilled: the scale
 * is a model input, 28 steps at 3.5, 512 text tokens, the schedule shifted with the image's token count). Loads BFL
 * single files with their separate autoencoder and text encoder files, ComfyUI all-in-one checkpoints
 * ({@link FluxFiles}), and diffusers folders.
 */
public final class Flux {
    public static final float VAE_SCALING = 0.3611f;
    public static final float VAE_SHIFT = 0.1159f;
    /** T5 tokens of the prompt, as the reference pipelines use them: schnell 256, dev 512. */
    public static final int SCHNELL_TEXT_TOKENS = 256;
    public static final int DEV_TEXT_TOKENS = 512;
    public static final ModelDefaults SCHNELL_DEFAULTS = ModelFamily.FLUX.defaults();
    public static final ModelDefaults DEV_DEFAULTS = SCHNELL_DEFAULTS.withSteps(28).withGuidanceScale(3.5f);
    private static final System.Logger LOG = System.getLogger(Flux.class.getName());
    private static final List<String> COMPONENTS = List.of("transformer", "text_encoder_2", "vae", "text_encoder");

    private Flux() {
    }

    /** The parts of a FLUX.1 model, configured and with their weights under canonical names, nothing loaded yet. */
    public record Parts(FluxConfig transformer, VaeConfig vae, ClipTextConfig clipL, T5Config t5,
                        ClipTokenizer clipTokenizer, int clipPadId, T5Tokenizer t5Tokenizer, SchedulerSettings scheduler,
                        Function<String, WeightSource> weights, Owned owned, Optional<WeightMode> storedMode)
            implements AutoCloseable {

        public boolean guidanceDistilled() {
            return transformer.guidanceEmbeds();
        }

        public int textTokens() {
            return guidanceDistilled() ? DEV_TEXT_TOKENS : SCHNELL_TEXT_TOKENS;
        }

        public ModelDefaults defaults() {
            return guidanceDistilled() ? DEV_DEFAULTS : SCHNELL_DEFAULTS;
        }

        /** {@code transformer}, {@code vae}, {@code text_encoder} (CLIP-L) or {@code text_encoder_2} (T5); the caller closes it. */
        public WeightSource weights(String component) {
            return weights.apply(component);
        }

        @Override
        public void close() {
            owned.close();
        }
    }

    public static Parts open(DetectedCheckpoint checkpoint, ModelFiles files) {
        return checkpoint.layout() == DetectedCheckpoint.Layout.SINGLE_FILE ? openSingleFiles(files) : openDiffusersFolder(checkpoint.path());
    }

    private static Parts openSingleFiles(ModelFiles files) {
        FluxFiles opened = FluxFiles.open(files);
        try {
            FluxConfig transformer = ComponentLoader.inferConfig("transformer", opened.transformer(), FluxConfig::infer);
            ClipTextConfig clipL = ComponentLoader.inferConfig("text_encoder", opened.clipL(), (n, s) -> ClipTextConfig.infer(n, s, true));
            T5Config t5 = ComponentLoader.inferConfig("text_encoder_2", opened.t5(), T5Config::infer);
            checkTextEncoders(transformer, clipL, t5, files.checkpoint().toString(), opened.clipL().location(), opened.t5().location());
            ClipTokenizer clipTokenizer = ClipTokenizer.bundled();
            return new Parts(transformer,
                    ComponentLoader.inferConfig("vae", opened.vae(), (n, s) -> VaeConfig.infer(n, s, VAE_SCALING, VAE_SHIFT)),
                    clipL, t5,
                    clipTokenizer, clipTokenizer.eosId(), T5Tokenizer.bundled(), scheduler(transformer),
                    component -> switch (component) {
                        case "transformer" -> opened.transformer();
                        case "vae" -> opened.vae();
                        case "text_encoder" -> opened.clipL();
                        case "text_encoder_2" -> opened.t5();
                        default -> throw new IllegalArgumentException("a FLUX.1 model has no component " + component);
                    }, opened::close, opened.storedMode());
        } catch (RuntimeException e) {
            opened.close();
            throw e;
        }
    }

    private static Parts openDiffusersFolder(Path path) {
        DiffusersFolder folder = DiffusersFolder.open(path);
        Path clipTokenizerDir = folder.dir().resolve("tokenizer");
        ClipTokenizer clipTokenizer = Files.isDirectory(clipTokenizerDir) ? ClipTokenizer.fromDiffusersFolder(clipTokenizerDir) : ClipTokenizer.bundled();
        Path spiece = folder.dir().resolve("tokenizer_2").resolve("spiece.model");
        FluxConfig transformer = FluxConfig.fromDiffusers(folder.config("transformer"));
        ClipTextConfig clipL = ClipTextConfig.fromHuggingFace(folder.config("text_encoder"), false);
        T5Config t5 = T5Config.fromHuggingFace(folder.config("text_encoder_2"));
        checkTextEncoders(transformer, clipL, t5, folder.dir().resolve("transformer").toString(),
                folder.dir().resolve("text_encoder").toString(), folder.dir().resolve("text_encoder_2").toString());
        SchedulerSettings settings = FolderScheduler.of(folder, scheduler(transformer)).settings();
        return new Parts(transformer, VaeConfig.fromDiffusers(folder.config("vae")), clipL, t5,
                clipTokenizer, clipTokenizer.padId(), Files.isRegularFile(spiece) ? T5Tokenizer.fromFile(spiece) : T5Tokenizer.bundled(),
                settings.withTimestepDivisor(1000f), folder::weights, Owned.NOTHING, Optional.empty());
    }

    /**
     * The text encoders must be the transformer's own: T5's states are its context ({@code d_model} = the context
     * width), CLIP-L's pooled output its global vector (hidden size = the pooled width). A text encoder of another
     * model would otherwise load and only fail, obscurely, at the first image.
     */
    static void checkTextEncoders(FluxConfig transformer, ClipTextConfig clipL, T5Config t5,
                                  String transformerAt, String clipAt, String t5At) {
        if (t5.dModel() != transformer.contextDim()) {
            throw new WeightsException(t5At + ": this T5 text encoder is " + t5.dModel() + " wide (d_model), but the FLUX.1 "
                    + "transformer " + transformerAt + " takes T5 states " + transformer.contextDim()
                    + " wide: the T5 file belongs to another model");
        }
        if (clipL.hidden() != transformer.pooledDim()) {
            throw new WeightsException(clipAt + ": this CLIP-L text encoder is " + clipL.hidden() + " wide (hidden size), but "
                    + "the FLUX.1 transformer " + transformerAt + " takes a pooled text vector " + transformer.pooledDim()
                    + " wide: the CLIP-L file belongs to another model");
        }
    }

    /** Bytes the model's weights take loaded in {@code mode}: quantized layers at their block size, the rest fp32. */
    private static long bytes(Parts parts, WeightMode mode) {
        return transformerBytes(parts, mode) + t5Bytes(parts, mode) + fp32PartsBytes(parts);
    }

    /** The transformer's weights as handed to ONNX Runtime in {@code mode} (blocks and scales, the rest fp32). */
    private static long transformerBytes(Parts parts, WeightMode mode) {
        return MemoryCheck.loadedBytes(FluxTransformer.graph(parts.transformer(), linears(mode)), mode);
    }

    /** T5's weights as handed to ONNX Runtime in {@code mode}. */
    private static long t5Bytes(Parts parts, WeightMode mode) {
        return MemoryCheck.loadedBytes(T5Encoder.graph(parts.t5(), linears(mode)), mode);
    }

    /** The autoencoder and CLIP-L, fp32 in every mode. */
    private static long fp32PartsBytes(Parts parts) {
        long bytes = 0;
        for (String component : List.of("vae", "text_encoder")) {
            try (WeightSource w = parts.weights(component)) {
                bytes += MemoryCheck.fp32Bytes(w);
            }
        }
        return bytes;
    }

    private static Linears linears(WeightMode mode) {
        return RuntimeOptions.defaults().withPrepack(true).withWeights(mode).linears();
    }

    /**
     * Room kept beside the weights while T5 encodes (T5 is loaded only then, when the model is quantized): its
     * activations (0.1 GiB at 256 tokens, measured), the Java heap, the rest of the system.
     */
    static final long HEADROOM = 3L << 30;

    /**
     * The mode of a FLUX.1 loaded without a weight mode that is not fp32, given the bits its file holds (int4 or int8 for
     * a GGUF's blocks, int8 for a bf16 or fp8 file that fp32 does not fit): 4 bits run as stored; 8 bits run w8a8 where
     * the CPU has an exact integer GEMM (a GGUF's Q8_0 blocks are then quantized again, one scale per channel: about 5
     * times as fast per step as the blocks as stored), else int8 (Q8_0 blocks as stored).
     */
    public static WeightMode quantizedDefault(WeightMode bits) {
        return bits == WeightMode.INT8 && CpuFeatures.integerDotProduct() ? WeightMode.W8A8 : bits;
    }

    /**
     * The mode T5 is meant to run in for a model in {@code mode}: the same, except that T5 never runs w8a8 (T5's
     * activations have outlier channels that one scale per token serves badly; it encodes once per prompt, so its speed
     * matters little): a w8a8 model runs T5 in int8.
     */
    public static WeightMode t5Weights(WeightMode mode) {
        return mode == WeightMode.W8A8 ? WeightMode.INT8 : mode;
    }

    /**
     * T5's mode: {@link #t5Weights}, except that an int8 T5 runs in int4 when the transformer and T5, repacked as loaded ({@link MemoryCheck#residentBytes}),
     * would not fit the memory available with {@link #HEADROOM} to spare (a full-size FLUX.1: about 14 GiB of
     * transformer and 6 GiB of T5-XXL in int8, 3.7 GiB for T5 in int4). Said in the log.
     */
    static WeightMode t5Mode(Parts parts, WeightMode mode, String model) {
        WeightMode t5 = t5Weights(mode);
        if (t5 != WeightMode.INT8) return t5;
        long int8 = MemoryCheck.residentBytes(FluxTransformer.graph(parts.transformer(), linears(mode)), mode)
                + MemoryCheck.residentBytes(T5Encoder.graph(parts.t5(), linears(t5)), t5) + fp32PartsBytes(parts);
        if (MemoryCheck.fits(int8 + HEADROOM)) return t5;
        LOG.log(System.Logger.Level.INFO, "{0}: {1} weights with T5 in int8 need more memory than this machine has "
                + "available; T5 runs with int4 weights", model, mode);
        return WeightMode.INT4;
    }

    /** T5 loaded again from the model's files (with a prepared-model cache: mapped from its entry). */
    private static T5TextEncoder reloadT5(DetectedCheckpoint checkpoint, ModelFiles files, RuntimeOptions options) {
        try (Parts parts = open(checkpoint, files); WeightSource w = parts.weights("text_encoder_2")) {
            return new T5TextEncoder(parts.t5(), w, "text_encoder_2", options);
        }
    }

    private static ClipTextEncoder loadClip(Parts parts, WeightSource w, RuntimeOptions options) {
        return new ClipTextEncoder(parts.clipTokenizer(), parts.clipPadId(), parts.clipL(), w, "text_encoder", options);
    }

    private static ClipTextEncoder reloadClip(DetectedCheckpoint checkpoint, ModelFiles files, RuntimeOptions options) {
        try (Parts parts = open(checkpoint, files); WeightSource w = parts.weights("text_encoder")) {
            return loadClip(parts, w, options);
        }
    }

    /** The variant's own schedule: schnell unshifted, dev shifted with the image's token count. */
    private static SchedulerSettings scheduler(FluxConfig transformer) {
        return transformer.guidanceEmbeds() ? SchedulerSettings.fluxDev() : SchedulerSettings.fluxSchnell();
    }

    /**
     * Loads the pipeline, largest component first (while a component loads, its weights are briefly held twice):
     * transformer, T5, autoencoder, CLIP-L. The files are closed once they are loaded.
     *
     * <p>Weight mode: the caller's, else fp32 where the fp32 weights fit the memory available (exact, and what the
     * fixtures check), else {@link #quantizedDefault}: w8a8 where the CPU has an exact integer GEMM (a full-size FLUX.1
     * needs 67 GB in fp32, about 12 GB of transformer in w8a8, whose steps run about 5 times as fast as int8's blocks),
     * else int8; a GGUF transformer by its blocks. The transformer's blocks and T5's linears are quantized; the rest stays
     * fp32.
     *
     * <p>Memory, where the weights are quantized (memory is what this model is short of): the text encoders are loaded
     * only while they encode ({@link EncoderSlot}), one after the other: CLIP-L (the one loaded now serves the first
     * prompt), then T5 (its weights are checked against the model now). So the transformer's step and the VAE's decode
     * do not share the machine with them, nor T5's encoding, the peak of a generation, with CLIP-L; and the
     * transformer and the VAE free their activations after each run instead of keeping them in ONNX Runtime's arena,
     * so that each stage has the memory the previous one used. In fp32 everything stays loaded, as before.
     */
    public static DiffusionPipeline load(DetectedCheckpoint checkpoint, ModelFiles files, RuntimeOptions requested) {
        ComponentsLoaded built = new ComponentsLoaded();
        try (Parts parts = open(checkpoint, files)) {
            String model = "the FLUX.1 model " + checkpoint.path().getFileName();
            // A GGUF transformer's own blocks say 8 or 4 bits.
            WeightMode mode = requested.weights() != null ? requested.weights()
                    : parts.storedMode().map(Flux::quantizedDefault).orElseGet(() -> MemoryCheck.fits(bytes(parts, WeightMode.FP32))
                            ? WeightMode.FP32 : quantizedDefault(WeightMode.INT8));
            WeightMode t5Mode = t5Mode(parts, mode, model);
            long t5Bytes = t5Bytes(parts, t5Mode);
            MemoryCheck.requireFits(model, mode, transformerBytes(parts, mode) + t5Bytes + fp32PartsBytes(parts));
            // No GEMM repacking in fp32: at full size the transformer alone holds 48 GB of fp32 weights. Quantized
            // layers prepack (their kernels need it), so the quantized networks do; CLIP-L and the VAE need not.
            RuntimeOptions chosen = requested.withWeights(mode);
            RuntimeOptions options = chosen.prepackOr(false);
            RuntimeOptions fp32Parts = chosen.withWeights(WeightMode.FP32).prepackOr(false);
            // Quantized: the big sessions give their activations back after each run (see above).
            RuntimeOptions big = options.activationArenaOr(!mode.quantized());
            FluxDenoiser denoiser;
            try (WeightSource w = parts.weights("transformer")) {
                denoiser = built.add(new FluxDenoiser(parts.transformer(), w, big));
            }
            RuntimeOptions t5Options = options.withWeights(t5Mode);
            EncoderSlot<T5TextEncoder> t5;
            if (mode.quantized()) {
                try (WeightSource w = parts.weights("text_encoder_2")) {
                    ComponentLoader.validate("text_encoder_2", T5Encoder.graph(parts.t5(), t5Options.linears()).weights(),
                            T5TextEncoder.withSharedEmbedding(w));
                }
                t5 = built.add(EncoderSlot.onDemand(null, () -> reloadT5(checkpoint, files, t5Options), t5Bytes));
                LOG.log(System.Logger.Level.INFO, "{0}: T5 ({1} weights) is loaded to encode each prompt and closed after it",
                        model, t5Mode);
            } else {
                try (WeightSource w = parts.weights("text_encoder_2")) {
                    T5TextEncoder encoder = built.add(new T5TextEncoder(parts.t5(), w, "text_encoder_2", t5Options));
                    t5 = EncoderSlot.kept(encoder, encoder.weightBytes());
                }
            }
            VaeCodec vae;
            try (WeightSource w = parts.weights("vae")) {
                vae = built.add(new VaeCodec(parts.vae(), w, fp32Parts.activationArenaOr(!mode.quantized())));
            }
            ClipTextEncoder clipL;
            try (WeightSource w = parts.weights("text_encoder")) {
                clipL = built.add(loadClip(parts, w, fp32Parts));
            }
            EncoderSlot<ClipTextEncoder> clip = mode.quantized()
                    ? EncoderSlot.onDemand(clipL, () -> reloadClip(checkpoint, files, fp32Parts), clipL.weightBytes())
                    : EncoderSlot.kept(clipL, clipL.weightBytes());
            FluxConditioner conditioner = new FluxConditioner(clip, parts.t5Tokenizer(), t5, parts.textTokens());
            Guidance.Kind guidance = parts.guidanceDistilled() ? Guidance.Kind.EMBEDDED : Guidance.Kind.NONE;
            SchedulerSettings settings = parts.scheduler();
            return new DiffusionPipeline(ModelFamily.FLUX, conditioner, denoiser, vae,
                    LatentFormat.patchPacked((int) parts.vae().latentChannels()), guidance, kind -> settings, parts.defaults(), mode);
        } catch (RuntimeException e) {
            throw built.closeAfter(e);
        }
    }
}
