package dev.easel.server.catalog;

import dev.easel.server.auth.Tier;

import java.nio.file.Path;
import java.util.Optional;

/**
 * A model as the API serves it: catalog recipe merged with what was found in the models dir.
 *
 * @param family           the family id ("sd15", "sdxl", "flux", or what a probe found)
 * @param weights          the checkpoint file or diffusers folder; empty when not installed
 * @param catalogued       whether the catalog names it (false: a checkpoint found in the models dir)
 * @param unavailable      why it cannot run (not installed, unsupported family, failed to load)
 * @param steps            recipe overrides; null = the pipeline's defaults
 */
public record ModelEntry(
        String id,
        String family,
        Tier tier,
        String description,
        int defaultWidth,
        int defaultHeight,
        int minSide,
        int maxSide,
        int sizeMultiple,
        int maxEditImages,
        Integer steps,
        Float guidanceScale,
        String sampler,
        Optional<Path> weights,
        boolean catalogued,
        Optional<String> unavailable) {

    public boolean installed() {
        return weights.isPresent();
    }

    public boolean available() {
        return unavailable.isEmpty();
    }

    public String defaultSize() {
        return defaultWidth + "x" + defaultHeight;
    }

    ModelEntry withUnavailable(Optional<String> reason) {
        return new ModelEntry(id, family, tier, description, defaultWidth, defaultHeight, minSide, maxSide, sizeMultiple,
                maxEditImages, steps, guidanceScale, sampler, weights, catalogued, reason);
    }
}
