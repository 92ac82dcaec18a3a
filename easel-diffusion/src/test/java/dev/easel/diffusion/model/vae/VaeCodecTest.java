package dev.easel.diffusion.model.vae;

import dev.easel.engine.runtime.RuntimeOptions;
import dev.easel.engine.tensor.FloatTensor;
import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;

class VaeCodecTest {

    @Test
    void decodesInTilesExactlyWhenTheLatentsAreLargerThanTheTilingAllows() throws Exception {
        try (FixtureVae vae = FixtureVae.of("sdxl")) {
            VaeConfig config = vae.config();
            int channels = (int) config.latentChannels();
            SplittableRandom r = new SplittableRandom(1);
            float[] d = new float[channels * 20 * 12];
            for (int i = 0; i < d.length; i++) d[i] = (float) r.nextGaussian() * 5;
            FloatTensor z = new FloatTensor(new long[]{1, channels, 20, 12}, d);
            VaeTiling small = new VaeTiling(12 * 12, 12, 4);
            try (VaeCodec codec = new VaeCodec(config, vae.weights(), RuntimeOptions.defaults(), small)) {
                int scale = codec.pixelsPerLatent();
                assertThat(scale).isEqualTo(1 << (config.levels() - 1));
                FloatTensor tiled = codec.decode(z).get("image");
                assertThat(tiled).isEqualTo(codec.decodeTiled(z, small).get("image"));
                assertThat(tiled).isNotEqualTo(codec.decodeWhole(z).get("image"));
                codec.setTiling(VaeTiling.above(20));
                assertThat(codec.decode(z).get("image")).isEqualTo(codec.decodeWhole(z).get("image"));
                assertThat(codec.decode(z).get("image").shape()).containsExactly(1, 3, 20 * scale, 12 * scale);
            }
        }
    }
}
