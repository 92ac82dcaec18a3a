package dev.easel.diffusion.model.vae;

import dev.easel.diffusion.convert.DiffusersFolder;
import dev.easel.diffusion.convert.LdmVaeNames;
import dev.easel.diffusion.convert.StableDiffusionSingleFile;
import dev.easel.diffusion.fixtures.FixtureCase;
import dev.easel.engine.weights.SafetensorsFile;
import dev.easel.engine.weights.WeightSource;

import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * A family's VAE from the fixtures, in whichever layout they hold it: the diffusers folder's {@code vae/} with its
 * config, else the single file's {@code first_stage_model.*} with the config inferred from its shapes (and the
 * family's scaling factors, which a single file does not carry: see {@link FixtureCase#vaeConfig()}).
 */
record FixtureVae(VaeConfig config, WeightSource weights, AutoCloseable file) implements AutoCloseable {

    /** The VAE, or the test is skipped where the fixtures hold no model of the family. */
    static FixtureVae of(String family) {
        Optional<Path> folder = FixtureCase.diffusersFolder(family);
        if (folder.isPresent()) {
            DiffusersFolder diffusers = DiffusersFolder.open(folder.get());
            WeightSource weights = diffusers.weights("vae");
            return new FixtureVae(VaeConfig.fromDiffusers(diffusers.config("vae")), weights, weights);
        }
        List<FixtureCase> cases = FixtureCase.all(family).stream().filter(c -> c.singleFile().isPresent()).toList();
        assumeTrue(!cases.isEmpty(), "no " + family + " VAE (diffusers folder or single file) in " + FixtureCase.root());
        FixtureCase c = cases.getFirst();
        SafetensorsFile file = SafetensorsFile.open(c.singleFile().orElseThrow());
        WeightSource weights = LdmVaeNames.view(file, StableDiffusionSingleFile.VAE_PREFIX);
        VaeConfig preset = VaeConfig.fromDiffusers(c.vaeConfig());
        VaeConfig config = VaeConfig.infer(weights.names(), n -> weights.info(n).shape(), preset.scalingFactor(), preset.shiftFactor());
        return new FixtureVae(config, weights, file);
    }

    @Override
    public void close() throws Exception {
        file.close();
    }
}
