package dev.easel.diffusion.model.unet;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.easel.diffusion.convert.StableDiffusionXLSingleFile;
import dev.easel.diffusion.fixtures.FixtureCase;
import dev.easel.engine.weights.WeightSource;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.Optional;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class UNetConfigTest {

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
    void theSdxlSingleFileUNetIsInferredGivenThePooledWidth() throws Exception {
        try (StableDiffusionXLSingleFile file = StableDiffusionXLSingleFile.open(FixtureCase.requireSingleFile("sdxl"))) {
            WeightSource unet = file.unet();
            WeightSource clipG = file.textEncoder2();
            long pooled = clipG.info("text_projection.weight").dim(0); // a Linear weight: [projection, hidden]
            UNetConfig inferred = UNetConfig.infer(unet.names(), n -> unet.info(n).shape(), pooled);
            // the SDXL conventions single files rely on: head dim 64, no transformers (depth 0) on plain levels
            for (int i = 0; i < inferred.levels(); i++) {
                assertThat(inferred.heads()[i]).as("heads of level %d", i).isEqualTo((int) Math.max(1, inferred.channels()[i] / 64));
                assertThat(inferred.depth()[i] > 0).as("level %d has transformers", i).isEqualTo(inferred.crossAttention()[i]);
            }
            long additionInput = unet.info("add_embedding.linear_1.weight").dim(1);
            long timeEmbed = (additionInput - pooled) / 6;
            assertThat(inferred.additionInput()).isEqualTo(additionInput);
            assertThat(inferred.additionTimeEmbed()).isEqualTo(timeEmbed);
            Optional<Path> folder = FixtureCase.diffusersFolder("sdxl");
            if (folder.isPresent()) {
                assertSameConfig(inferred, UNetConfig.fromDiffusers(FixtureCase.readJson(folder.get().resolve("unet/config.json"))));
                assertThat(FixtureCase.readJson(folder.get().resolve("text_encoder_2/config.json")).get("projection_dim").asLong())
                        .isEqualTo(pooled);
            }

            assertThatThrownBy(() -> UNetConfig.infer(unet.names(), n -> unet.info(n).shape()))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("add_embedding").hasMessageContaining("pooled");
            // another pooled width leaves another even time-id width; one that leaves no whole sixth is refused
            long otherTimeEmbed = timeEmbed == 2 ? 4 : 2;
            assertThat(UNetConfig.infer(unet.names(), n -> unet.info(n).shape(), additionInput - 6 * otherTimeEmbed).additionTimeEmbed())
                    .isEqualTo(otherTimeEmbed);
            long uneven = pooled - 1;
            assertThatThrownBy(() -> UNetConfig.infer(unet.names(), n -> unet.info(n).shape(), uneven))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining(String.valueOf(additionInput)).hasMessageContaining(String.valueOf(uneven));
            assertThatThrownBy(() -> UNetConfig.infer(unet.names(), n -> unet.info(n).shape(), additionInput))
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
