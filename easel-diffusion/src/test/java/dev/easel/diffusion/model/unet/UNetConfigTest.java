package dev.easel.diffusion.model.unet;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.easel.diffusion.convert.StableDiffusionXLSingleFile;
import dev.easel.diffusion.fixtures.FixtureCase;
import dev.easel.engine.weights.WeightSource;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

class UNetConfigTest {

    private static Path sdxl() {
        Path family = FixtureCase.root().resolve("sdxl");
        assumeTrue(Files.isDirectory(family.resolve("single_file")), "no SDXL fixtures");
        return family;
    }

    private static void assertSameConfig(UNetConfig actual, UNetConfig expected) {
        assertThat(actual.inChannels()).isEqualTo(expected.inChannels());
        assertThat(actual.outChannels()).isEqualTo(expected.outChannels());
        assertThat(actual.channels()).containsExactly(expected.channels());
        assertThat(actual.layersPerBlock()).isEqualTo(expected.layersPerBlock());
        assertThat(actual.crossAttention()).containsExactly(expected.crossAttention());
        assertThat(actual.heads()).containsExactly(expected.heads());
        assertThat(actual.midDepth()).isEqualTo(expected.midDepth());
        assertThat(actual.crossAttentionDim()).isEqualTo(expected.crossAttentionDim());
        assertThat(actual.linearProjection()).isEqualTo(expected.linearProjection());
        assertThat(actual.additionTimeEmbed()).isEqualTo(expected.additionTimeEmbed());
        assertThat(actual.additionInput()).isEqualTo(expected.additionInput());
        // depth matters only where a level has transformers (the diffusers config lists 1 for DownBlock2D levels)
        for (int i = 0; i < expected.levels(); i++) {
            if (expected.crossAttention()[i]) assertThat(actual.depth()[i]).as("depth of level %d", i).isEqualTo(expected.depth()[i]);
        }
    }

    @Test
    void theSdxlSingleFileUNetIsInferredExactlyGivenThePooledWidth() throws Exception {
        Path family = sdxl();
        UNetConfig expected = UNetConfig.fromDiffusers(new ObjectMapper().readTree(family.resolve("diffusers/unet/config.json").toFile()));
        long pooled = new ObjectMapper().readTree(family.resolve("diffusers/text_encoder_2/config.json").toFile()).get("projection_dim").asLong();
        try (StableDiffusionXLSingleFile file = StableDiffusionXLSingleFile.open(family.resolve("single_file/sdxl_tiny.safetensors"))) {
            WeightSource unet = file.unet();
            UNetConfig inferred = UNetConfig.infer(unet.names(), n -> unet.info(n).shape(), pooled);
            assertSameConfig(inferred, expected);
            assertThat(inferred.depth()).containsExactly(0, 2);
            assertThat(inferred.heads()).containsExactly(1, 2);

            assertThatThrownBy(() -> UNetConfig.infer(unet.names(), n -> unet.info(n).shape()))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("add_embedding").hasMessageContaining("pooled");
            // 112 = 64 + 6 * 8; a pooled width of 40 would make 12-wide time embeddings, 50 no whole number
            assertThat(UNetConfig.infer(unet.names(), n -> unet.info(n).shape(), 40).additionTimeEmbed()).isEqualTo(12);
            assertThatThrownBy(() -> UNetConfig.infer(unet.names(), n -> unet.info(n).shape(), 50))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("112").hasMessageContaining("50");
            assertThatThrownBy(() -> UNetConfig.infer(unet.names(), n -> unet.info(n).shape(), 112))
                    .isInstanceOf(IllegalArgumentException.class);
        }
    }

    @Test
    void theRealSdxlConfigSplitsItsAddEmbeddingAs1280PooledPlusSixTimesTwoFiftySix() throws Exception {
        try (var in = UNetConfigTest.class.getResourceAsStream("/dev/easel/diffusion/presets/sdxl/unet.json")) {
            assertThat(in).as("SDXL UNet preset").isNotNull();
            UNetConfig c = UNetConfig.fromDiffusers(new ObjectMapper().readTree(in));
            assertThat(c.additionTimeEmbed()).isEqualTo(256);
            assertThat(c.additionInput()).isEqualTo(1280 + 6 * 256);
            assertThat(c.channels()).containsExactly(320, 640, 1280);
            assertThat(c.heads()).containsExactly(5, 10, 20);
            assertThat(c.crossAttention()).containsExactly(false, true, true);
            assertThat(c.depth()[1]).isEqualTo(2);
            assertThat(c.depth()[2]).isEqualTo(10);
            assertThat(c.midDepth()).isEqualTo(10);
            assertThat(c.crossAttentionDim()).isEqualTo(2048);
            assertThat(c.linearProjection()).isTrue();
        }
    }
}
