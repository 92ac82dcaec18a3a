package dev.easel.diffusion.family;

import dev.easel.diffusion.convert.DetectedCheckpoint;
import dev.easel.diffusion.pipeline.ImagePipeline;
import dev.easel.diffusion.pipeline.ModelDefaults;
import dev.easel.engine.runtime.RuntimeOptions;

import java.util.Arrays;
import java.util.Locale;
import java.util.Optional;

/**
 * What a model family is, in one place: its id, the image sizes it takes, its recipe defaults, what kind of
 * edits it runs, and how it is loaded. Detection ({@link dev.easel.diffusion.convert.CheckpointInspector}) says
 * which family a checkpoint belongs to; the CLI, the server's catalog and the bench read everything else here.
 *
 * @param sizeMultiple width and height must be multiples of this: 8 for the UNets (they upsample to each skip
 *                     connection's size, so any latent size works), 16 for FLUX.1 (2x2 latent patches)
 * @param defaults     the family's base recipe; a loaded model may refine it (SDXL Lightning by name, FLUX.1-dev)
 * @param maskedEdits  whether edits may carry a mask (inpainting with the ordinary denoiser)
 */
public enum ModelFamily {
    SD15("sd15", "Stable Diffusion 1.x", 8, 512, 64, 1024,
            new ModelDefaults(512, 512, 25, 7.5f, "euler", 0.75f), true, StableDiffusion15::load),
    SDXL("sdxl", "Stable Diffusion XL", 8, 1024, 256, 2048,
            new ModelDefaults(1024, 1024, 30, 5f, "euler", 0.75f), true, StableDiffusionXL::load),
    FLUX("flux", "FLUX.1", 16, 1024, 256, 2048,
            new ModelDefaults(1024, 1024, 4, 0f, "euler", 0.75f), false, Flux::load);

    private final String id;
    private final String displayName;
    private final int sizeMultiple;
    private final int defaultSide;
    private final int minSide;
    private final int maxSide;
    private final ModelDefaults defaults;
    private final boolean maskedEdits;
    private final Loader loader;

    ModelFamily(String id, String displayName, int sizeMultiple, int defaultSide, int minSide, int maxSide,
                ModelDefaults defaults, boolean maskedEdits, Loader loader) {
        this.id = id;
        this.displayName = displayName;
        this.sizeMultiple = sizeMultiple;
        this.defaultSide = defaultSide;
        this.minSide = minSide;
        this.maxSide = maxSide;
        this.defaults = defaults;
        this.maskedEdits = maskedEdits;
        this.loader = loader;
    }

    /** How a family turns a detected checkpoint (and the separate component files it needs) into a pipeline. */
    @FunctionalInterface
    public interface Loader {
        ImagePipeline load(DetectedCheckpoint checkpoint, ModelFiles files, RuntimeOptions options);
    }

    /** The id used in catalogs and API answers: {@code sd15}, {@code sdxl}, {@code flux}. */
    public String id() {
        return id;
    }

    public String displayName() {
        return displayName;
    }

    public int sizeMultiple() {
        return sizeMultiple;
    }

    public int defaultSide() {
        return defaultSide;
    }

    public int minSide() {
        return minSide;
    }

    public int maxSide() {
        return maxSide;
    }

    public ModelDefaults defaults() {
        return defaults;
    }

    public boolean maskedEdits() {
        return maskedEdits;
    }

    /** How many images one edit takes (the API's repeated {@code image[]}). */
    public int maxEditImages() {
        return 1;
    }

    public ImagePipeline load(DetectedCheckpoint checkpoint, ModelFiles files, RuntimeOptions options) {
        return loader.load(checkpoint, files, options);
    }

    /** Why {@code width x height} is not a size this family takes, or empty when it is. */
    public Optional<String> sizeProblem(int width, int height) {
        if (width <= 0 || height <= 0 || width % sizeMultiple != 0 || height % sizeMultiple != 0) {
            return Optional.of("width and height must be positive multiples of " + sizeMultiple + " for " + displayName
                    + ", got " + width + "x" + height);
        }
        return Optional.empty();
    }

    /** By id ({@code sd15}, {@code sdxl}, {@code flux}), ignoring case. */
    public static Optional<ModelFamily> byId(String id) {
        if (id == null) return Optional.empty();
        String wanted = id.toLowerCase(Locale.ROOT);
        return Arrays.stream(values()).filter(f -> f.id.equals(wanted)).findFirst();
    }
}
