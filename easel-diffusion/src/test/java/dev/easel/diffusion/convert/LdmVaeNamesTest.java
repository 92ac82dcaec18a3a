package dev.easel.diffusion.convert;

import dev.easel.diffusion.fixtures.FixtureCase;
import dev.easel.engine.weights.SafetensorsFile;
import dev.easel.engine.weights.WeightSource;
import dev.easel.engine.weights.WeightsException;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

class LdmVaeNamesTest {

    @Test
    void decoderLevelsAreNumberedFromTheOtherEnd() {
        List<String> keys = List.of(
                "encoder.down.0.block.0.conv1.weight", "encoder.down.0.downsample.conv.weight",
                "encoder.down.1.block.1.nin_shortcut.bias", "encoder.norm_out.weight",
                "decoder.up.0.block.2.norm2.bias", "decoder.up.1.upsample.conv.weight", "decoder.up.2.block.0.conv2.weight",
                "decoder.mid.block_1.norm1.weight", "decoder.mid.attn_1.proj_out.weight", "decoder.mid.attn_1.norm.bias",
                "quant_conv.weight", "post_quant_conv.bias");
        Map<String, String> names = LdmVaeNames.canonicalToOriginal(keys, "vae");
        assertThat(names).hasSize(keys.size())
                .containsEntry("encoder.down_blocks.0.resnets.0.conv1.weight", "encoder.down.0.block.0.conv1.weight")
                .containsEntry("encoder.down_blocks.0.downsamplers.0.conv.weight", "encoder.down.0.downsample.conv.weight")
                .containsEntry("encoder.down_blocks.1.resnets.1.conv_shortcut.bias", "encoder.down.1.block.1.nin_shortcut.bias")
                .containsEntry("encoder.conv_norm_out.weight", "encoder.norm_out.weight")
                .containsEntry("decoder.up_blocks.2.resnets.2.norm2.bias", "decoder.up.0.block.2.norm2.bias")
                .containsEntry("decoder.up_blocks.1.upsamplers.0.conv.weight", "decoder.up.1.upsample.conv.weight")
                .containsEntry("decoder.up_blocks.0.resnets.0.conv2.weight", "decoder.up.2.block.0.conv2.weight")
                .containsEntry("decoder.mid_block.resnets.0.norm1.weight", "decoder.mid.block_1.norm1.weight")
                .containsEntry("decoder.mid_block.attentions.0.to_out.0.weight", "decoder.mid.attn_1.proj_out.weight")
                .containsEntry("decoder.mid_block.attentions.0.group_norm.bias", "decoder.mid.attn_1.norm.bias")
                .containsEntry("quant_conv.weight", "quant_conv.weight");
        assertThat(LdmVaeNames.isAttentionProjection("decoder.mid_block.attentions.0.to_out.0.weight")).isTrue();
        assertThat(LdmVaeNames.isAttentionProjection("decoder.mid_block.attentions.0.to_out.0.bias")).isFalse();
    }

    @Test
    void theFluxAutoencoderFileEqualsItsDiffusersVae() {
        // FLUX ships its VAE alone (ae.safetensors, no prefix, no quant convs, 16 latent channels)
        Path ae = FixtureCase.all("flux").stream().flatMap(c -> c.singleFilePart("ae").stream()).findFirst().orElse(null);
        assumeTrue(ae != null, "no flux autoencoder file in " + FixtureCase.root());
        Path folder = FixtureCase.requireDiffusersFolder("flux");
        try (SafetensorsFile file = SafetensorsFile.open(ae);
             WeightSource expected = DiffusersFolder.open(folder).weights("vae")) {
            WeightSource vae = LdmVaeNames.view(file, "");
            ConvertFixtures.assertSameWeights(vae, expected);
            assertThat(vae.names()).noneMatch(n -> n.contains("quant_conv"));
        }
    }

    @Test
    void theSdxlCheckpointVaeEqualsItsDiffusersVae() {
        Path singleFile = FixtureCase.requireSingleFile("sdxl");
        Path folder = FixtureCase.requireDiffusersFolder("sdxl");
        try (SafetensorsFile file = SafetensorsFile.open(singleFile);
             WeightSource expected = DiffusersFolder.open(folder).weights("vae")) {
            ConvertFixtures.assertSameWeights(LdmVaeNames.view(file, StableDiffusionSingleFile.VAE_PREFIX), expected);
        }
    }

    @Test
    void anUnknownKeyIsNamedInTheError() {
        assertThatThrownBy(() -> LdmVaeNames.canonicalToOriginal(List.of("decoder.up.0.block.0.conv3.weight"), "vae.safetensors"))
                .isInstanceOf(WeightsException.class)
                .hasMessageContaining("vae.safetensors").hasMessageContaining("decoder.up.0.block.0.conv3.weight");
    }
}
