package dev.easel.server.catalog;

import dev.easel.diffusion.convert.Family;

import java.util.Locale;
import java.util.Optional;

/**
 * What the API checks about a model family before its weights are loaded: the default size, the size
 * bounds, the multiple both sides must be (latent patching), and how many input images an edit takes.
 * The recipe itself (steps, guidance, sampler) comes from the pipeline's defaults and the catalog.
 */
public record FamilyTraits(String id, String displayName, int defaultSide, int minSide, int maxSide, int sizeMultiple,
                           int maxEditImages) {

    public static final FamilyTraits SD15 = new FamilyTraits("sd15", Family.SD15.displayName(), 512, 64, 1024, 8, 1);
    public static final FamilyTraits SDXL = new FamilyTraits("sdxl", Family.SDXL.displayName(), 1024, 256, 2048, 8, 1);
    public static final FamilyTraits FLUX = new FamilyTraits("flux", Family.FLUX.displayName(), 1024, 256, 2048, 16, 1);

    /** By the catalog's family id: {@code sd15}, {@code sdxl}, {@code flux}. */
    public static Optional<FamilyTraits> of(String id) {
        if (id == null) return Optional.empty();
        return switch (id.toLowerCase(Locale.ROOT)) {
            case "sd15" -> Optional.of(SD15);
            case "sdxl" -> Optional.of(SDXL);
            case "flux" -> Optional.of(FLUX);
            default -> Optional.empty();
        };
    }

    public static FamilyTraits of(Family family) {
        return switch (family) {
            case SD15 -> SD15;
            case SDXL -> SDXL;
            case FLUX -> FLUX;
        };
    }
}
