package dev.easel.server.catalog;

import java.util.Optional;

/**
 * What the API layer needs to know about a model family before its weights are loaded: the default
 * size, the size bounds and the multiple that both sides must be (latent patching), and how many input
 * images an edit takes. The recipe itself (steps, guidance, sampler) comes from the pipeline.
 */
public record Family(String id, String displayName, int defaultSide, int minSide, int maxSide, int sizeMultiple,
                     int maxEditImages) {

    public static final Family SD15 = new Family("sd15", "Stable Diffusion 1.x", 512, 64, 1024, 8, 1);
    public static final Family SDXL = new Family("sdxl", "SDXL", 1024, 256, 2048, 8, 1);
    public static final Family FLUX = new Family("flux", "FLUX.1", 1024, 256, 2048, 16, 1);

    public static Optional<Family> of(String id) {
        if (id == null) return Optional.empty();
        return switch (id) {
            case "sd15" -> Optional.of(SD15);
            case "sdxl" -> Optional.of(SDXL);
            case "flux" -> Optional.of(FLUX);
            default -> Optional.empty();
        };
    }
}
