package dev.easel.server.cli;

import dev.easel.diffusion.convert.CheckpointInspector;
import dev.easel.diffusion.family.ModelFamily;
import dev.easel.diffusion.family.ModelFiles;
import dev.easel.diffusion.image.ImageCodec;
import dev.easel.diffusion.image.Mask;
import dev.easel.diffusion.image.RgbImage;
import dev.easel.diffusion.pipeline.GenerationRequest;
import dev.easel.diffusion.pipeline.ImagePipeline;
import dev.easel.diffusion.pipeline.ModelDefaults;
import dev.easel.diffusion.pipeline.Pipelines;
import dev.easel.diffusion.scheduler.SamplerKind;
import dev.easel.engine.runtime.RuntimeOptions;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.concurrent.ThreadLocalRandom;

/** {@code easel generate}: one prompt to PNG files, on this machine, no server. */
@Command(name = "generate", mixinStandardHelpOptions = true,
        description = "Generate images from a prompt (text-to-image, image-to-image, masked edit).")
public final class GenerateCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Option(names = "--model", required = true, description = "Checkpoint: a .safetensors file or a diffusers folder.")
    Path model;

    @Option(names = "--vae", description = "FLUX.1: the autoencoder file (ae.safetensors); default: found beside --model.")
    Path vae;

    @Option(names = "--clip-l", description = "FLUX.1: the CLIP-L text encoder file; default: found beside --model.")
    Path clipL;

    @Option(names = "--t5", description = "FLUX.1: the T5 encoder file (fp16, fp8 or scaled fp8); default: found beside --model.")
    Path t5;

    @Option(names = "--prompt", required = true)
    String prompt;

    @Option(names = "--negative-prompt")
    String negativePrompt;

    @Option(names = "--size", description = "WxH, e.g. 512x512 (default: the model's).")
    String size;

    @Option(names = "--steps", description = "Denoising steps (default: the model's).")
    Integer steps;

    @Option(names = "--guidance", description = "Classifier-free guidance scale; <= 1 turns it off.")
    Float guidance;

    @Option(names = "--sampler", description = "euler, euler_a, ddim, dpmpp_2m_karras (default: the model's).")
    String sampler;

    @Option(names = "--seed", description = "Random seed (default: random); the same seed gives the same image.")
    Long seed;

    @Option(names = "--image", description = "Source image for image-to-image or a masked edit.")
    Path image;

    @Option(names = "--strength", description = "How much to change the source, 0..1 (default: the model's; 1 with --mask).")
    Float strength;

    @Option(names = "--mask", description = "Grayscale mask, white = repaint (needs --image).")
    Path mask;

    @Option(names = "-n", defaultValue = "1", description = "Number of images.")
    int count;

    @Option(names = {"-o", "--output"}, defaultValue = "out.png", description = "Output PNG; more images get -2, -3 ... suffixes.")
    Path output;

    @Mixin
    RuntimeOptionsFlags runtime = new RuntimeOptionsFlags();

    @Option(names = "--cache-dir", paramLabel = "DIR", description = "Prepared-model cache: the model loads in seconds "
            + "from the second run on (default: $EASEL_CACHE_DIR, else ~/.cache/easel/prepared-models).")
    Path cacheDir;

    @Option(names = "--no-cache", description = "Load without the prepared-model cache (and write nothing to it).")
    boolean noCache;

    @Override
    public Integer call() {
        // Everything that can be checked without the model is checked first: loading a real one takes a while.
        RuntimeOptions options = checkArguments();
        int[] requested = size == null ? null : parseSize(size);
        Optional<RgbImage> source = Optional.ofNullable(image).map(file -> readImage("--image", file));
        Optional<Mask> maskImage = Optional.ofNullable(mask).map(this::readMask);
        checkSizes(requested, source, maskImage);
        ModelFiles files = new ModelFiles(model, Optional.ofNullable(vae), Optional.ofNullable(clipL), Optional.ofNullable(t5));
        // The family's size rule is known from the file's header: a wrong size is refused before a long load.
        ModelFamily family = CheckpointInspector.inspect(model).family();
        if (requested != null) {
            family.sizeProblem(requested[0], requested[1]).ifPresent(problem -> {
                throw bad("--size: " + problem);
            });
        }

        if (!noCache) options = options.withCache(CacheCommand.openForCli(cacheDir));
        PrintWriter err = spec.commandLine().getErr();
        long start = System.nanoTime();
        try (ImagePipeline pipeline = Pipelines.load(files, options)) {
            ModelDefaults d = pipeline.defaults();
            int width = requested != null ? requested[0] : source.map(RgbImage::width).orElse(d.width());
            int height = requested != null ? requested[1] : source.map(RgbImage::height).orElse(d.height());
            int multiple = family.sizeMultiple();
            if (requested == null && source.isPresent() && (width % multiple != 0 || height % multiple != 0)) {
                throw new ParameterException(spec.commandLine(), "--image is " + width + "x" + height + "; "
                        + family.displayName() + " needs sides that are multiples of " + multiple + " (crop or resize the image)");
            }
            float usedStrength = strength != null ? strength : d.editStrength(maskImage.isPresent());
            long usedSeed = seed != null ? seed : ThreadLocalRandom.current().nextLong(0, 1L << 32);
            GenerationRequest request = new GenerationRequest(prompt, negativePrompt, width, height,
                    steps != null ? steps : d.steps(), guidance != null ? guidance : d.guidanceScale(),
                    sampler != null ? sampler : d.sampler(), usedSeed, count, source, usedStrength, maskImage);
            err.printf("loaded %s (%s, %s weights) in %.1f s; seed %d%n", model.getFileName(),
                    family.id(), pipeline.weightMode(), (System.nanoTime() - start) / 1e9, usedSeed);
            ProgressBar bar = new ProgressBar(err);
            List<RgbImage> images;
            try {
                images = pipeline.generate(request, bar::onStep);
            } catch (RuntimeException e) {
                bar.abort();
                throw e;
            }
            bar.finish();
            for (int i = 0; i < images.size(); i++) {
                Path file = outputFile(i);
                ImageCodec.writePng(images.get(i), file);
                spec.commandLine().getOut().println(file);
            }
        } finally {
            awaitCacheWrites(options, err);
        }
        return 0;
    }

    /** The prepared model is written behind the load: the process stays until it is, so the next run finds it. */
    private static void awaitCacheWrites(RuntimeOptions options, PrintWriter err) {
        if (options.cache() == null || !options.cache().writing()) return;
        err.println("saving the prepared model for the next run...");
        err.flush();
        options.cache().awaitWrites();
    }

    /** Checks every argument that can be checked without the model; the runtime options are what they make. */
    private RuntimeOptions checkArguments() {
        if (!Files.exists(model)) throw bad("--model: no such file or folder: " + model);
        if (image != null && !Files.isRegularFile(image)) throw bad("--image: no such file: " + image);
        if (mask != null && !Files.isRegularFile(mask)) throw bad("--mask: no such file: " + mask);
        if (vae != null && !Files.exists(vae)) throw bad("--vae: no such file: " + vae);
        if (clipL != null && !Files.exists(clipL)) throw bad("--clip-l: no such file: " + clipL);
        if (t5 != null && !Files.exists(t5)) throw bad("--t5: no such file: " + t5);
        if (size != null) parseSize(size);
        if (mask != null && image == null) throw bad("--mask needs --image (the picture whose masked area is repainted)");
        if (steps != null && steps < 1) throw bad("--steps must be at least 1, got " + steps);
        if (strength != null && !(strength >= 0f && strength <= 1f)) throw bad("--strength must be within [0, 1], got " + strength);
        if (guidance != null && !Float.isFinite(guidance)) throw bad("--guidance must be a finite number, got " + guidance);
        if (count < 1) throw bad("-n must be at least 1, got " + count);
        RuntimeOptions options = runtime.options(spec, false); // --threads, --weights, --accuracy-level
        if (sampler != null) {
            try {
                SamplerKind.parse(sampler);
            } catch (IllegalArgumentException e) {
                throw bad("--sampler: " + e.getMessage());
            }
        }
        Path folder = output.toAbsolutePath().getParent();
        if (Files.isDirectory(output)) throw bad("-o: " + output + " is a folder; give a file name such as " + output.resolve("out.png"));
        if (folder != null && !Files.isDirectory(folder)) throw bad("-o: no such folder: " + folder);
        return options;
    }

    /** Source, mask and requested size must agree; the model's own size rule is checked once it is loaded. */
    private void checkSizes(int[] requested, Optional<RgbImage> source, Optional<Mask> maskImage) {
        if (source.isEmpty()) return;
        RgbImage src = source.get();
        if (requested != null && (requested[0] != src.width() || requested[1] != src.height())) {
            throw bad("--image is " + src.width() + "x" + src.height() + " but --size is " + size
                    + "; leave --size out to use the image's size");
        }
        if (maskImage.isPresent() && (maskImage.get().width() != src.width() || maskImage.get().height() != src.height())) {
            throw bad("--mask is " + maskImage.get().width() + "x" + maskImage.get().height() + " but --image is "
                    + src.width() + "x" + src.height() + "; they must be the same size");
        }
    }

    private RgbImage readImage(String option, Path file) {
        try {
            return ImageCodec.read(file);
        } catch (IllegalArgumentException | UncheckedIOException e) {
            throw bad(option + ": " + CliErrors.describe(e));
        }
    }

    private Mask readMask(Path file) {
        try {
            return ImageCodec.readMask(file);
        } catch (IllegalArgumentException | UncheckedIOException e) {
            throw bad("--mask: " + CliErrors.describe(e));
        }
    }

    private ParameterException bad(String message) {
        return new ParameterException(spec.commandLine(), message);
    }

    private int[] parseSize(String text) {
        String[] parts = text.toLowerCase(Locale.ROOT).split("x", -1);
        try {
            if (parts.length == 2) {
                int w = Integer.parseInt(parts[0].trim());
                int h = Integer.parseInt(parts[1].trim());
                if (w > 0 && h > 0) return new int[]{w, h};
            }
        } catch (NumberFormatException ignored) {
            // reported below
        }
        throw bad("--size must be WIDTHxHEIGHT in pixels, e.g. 512x512, got " + text);
    }

    private Path outputFile(int index) {
        if (index == 0) return output;
        String name = output.getFileName().toString();
        int dot = name.lastIndexOf('.');
        String stem = dot > 0 ? name.substring(0, dot) : name;
        String ext = dot > 0 ? name.substring(dot) : ".png";
        return output.resolveSibling(stem + "-" + (index + 1) + ext);
    }
}
