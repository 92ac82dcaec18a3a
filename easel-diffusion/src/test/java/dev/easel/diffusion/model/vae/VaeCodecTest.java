package dev.easel.diffusion.model.vae;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.easel.diffusion.fixtures.FixtureCase;
import dev.easel.engine.runtime.RuntimeOptions;
import dev.easel.engine.tensor.FloatTensor;
import dev.easel.engine.weights.SafetensorsFile;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.SplittableRandom;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

class VaeCodecTest {

    @Test
    void decodesInTilesExactlyWhenTheLatentsAreLargerThanTheTilingAllows() throws Exception {
        Path folder = FixtureCase.root().resolve("sdxl/diffusers/vae");
        assumeTrue(Files.isDirectory(folder), "no SDXL fixture VAE");
        VaeConfig config = VaeConfig.fromDiffusers(new ObjectMapper().readTree(folder.resolve("config.json").toFile()));
        SplittableRandom r = new SplittableRandom(1);
        float[] d = new float[4 * 20 * 12];
        for (int i = 0; i < d.length; i++) d[i] = (float) r.nextGaussian() * 5;
        FloatTensor z = new FloatTensor(new long[]{1, 4, 20, 12}, d);
        VaeTiling small = new VaeTiling(12 * 12, 12, 4);
        try (Stream<Path> files = Files.list(folder);
             SafetensorsFile weights = SafetensorsFile.open(files.filter(p -> p.toString().endsWith(".safetensors")).findFirst().orElseThrow());
             VaeCodec codec = new VaeCodec(config, weights, RuntimeOptions.defaults(), small)) {
            assertThat(codec.pixelsPerLatent()).isEqualTo(8);
            FloatTensor tiled = codec.decode(z).get("image");
            assertThat(tiled).isEqualTo(codec.decodeTiled(z, small).get("image"));
            assertThat(tiled).isNotEqualTo(codec.decodeWhole(z).get("image"));
            codec.setTiling(VaeTiling.above(20));
            assertThat(codec.decode(z).get("image")).isEqualTo(codec.decodeWhole(z).get("image"));
            assertThat(codec.decode(z).get("image").shape()).containsExactly(1, 3, 160, 96);
        }
    }
}
