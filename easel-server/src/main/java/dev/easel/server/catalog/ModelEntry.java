package dev.easel.server.catalog;

import dev.easel.engine.runtime.WeightMode;
import dev.easel.diffusion.family.ModelFamily;
import dev.easel.diffusion.family.ModelFiles;
import dev.easel.server.auth.Tier;

import java.nio.file.Path;
import java.util.Optional;

/**
 * A model as the API serves it: catalog recipe merged with what was found in the models dir.
 *
 * @param family           the family id ("sd15", "sdxl", "flux"), or "unknown" for a checkpoint no family takes
 * @param files            the checkpoint file or diffusers folder, and separate component files; empty when not installed
 * @param catalogued       whether the catalog names it (false: a checkpoint found in the models dir)
 * @param unavailable      why it cannot run (not installed, unsupported family, failed to load)
 * @param steps            recipe overrides; null = the pipeline's defaults
 * @param weightMode       the catalog's {@code weights:}, else the one a GGUF transformer's blocks give (Flux#quantizedDefault); null = the family's choice
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
        Integer steps,
        Float guidanceScale,
        String sampler,
        Optional<ModelFiles> files,
        boolean catalogued,
        Optional<String> unavailable,
        WeightMode weightMode) {

    /** An entry whose weight mode the family chooses (none configured). */
    public ModelEntry(String id, String family, Tier tier, String description, int defaultWidth, int defaultHeight,
                      int minSide, int maxSide, Integer steps, Float guidanceScale, String sampler,
                      Optional<ModelFiles> files, boolean catalogued, Optional<String> unavailable) {
        this(id, family, tier, description, defaultWidth, defaultHeight, minSide, maxSide, steps, guidanceScale, sampler,
                files, catalogued, unavailable, null);
    }

    /** The family's descriptor; Stable Diffusion 1.x's rules stand in for an unknown family, which never runs. */
    public ModelFamily familyDescriptor() {
        return ModelFamily.byId(family).orElse(ModelFamily.SD15);
    }

    /** Width and height must be multiples of this. */
    public int sizeMultiple() {
        return familyDescriptor().sizeMultiple();
    }

    public int maxEditImages() {
        return familyDescriptor().maxEditImages();
    }

    /** The checkpoint file or diffusers folder; empty when not installed. */
    public Optional<Path> weights() {
        return files.map(ModelFiles::checkpoint);
    }

    public boolean installed() {
        return files.isPresent();
    }

    public boolean available() {
        return unavailable.isEmpty();
    }

    public String defaultSize() {
        return defaultWidth + "x" + defaultHeight;
    }

    ModelEntry withUnavailable(Optional<String> reason) {
        return new ModelEntry(id, family, tier, description, defaultWidth, defaultHeight, minSide, maxSide, steps, guidanceScale, sampler, files, catalogued, reason, weightMode);
    }
}
