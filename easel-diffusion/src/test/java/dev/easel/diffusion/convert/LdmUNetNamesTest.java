package dev.easel.diffusion.convert;

import dev.easel.diffusion.fixtures.FixtureCase;
import dev.easel.engine.weights.SafetensorsFile;
import dev.easel.engine.weights.WeightSource;
import dev.easel.engine.weights.WeightsException;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class LdmUNetNamesTest {

    private static void resnet(List<String> keys, String prefix, boolean shortcut) {
        for (String part : List.of("in_layers.0", "in_layers.2", "emb_layers.1", "out_layers.0", "out_layers.3")) {
            keys.add(prefix + part + ".weight");
            keys.add(prefix + part + ".bias");
        }
        if (shortcut) {
            keys.add(prefix + "skip_connection.weight");
            keys.add(prefix + "skip_connection.bias");
        }
    }

    private static void transformer(List<String> keys, String prefix) {
        for (String part : List.of("norm", "proj_in", "proj_out", "transformer_blocks.0.attn1.to_out.0", "transformer_blocks.0.ff.net.2")) {
            keys.add(prefix + part + ".weight");
            keys.add(prefix + part + ".bias");
        }
        keys.add(prefix + "transformer_blocks.0.attn1.to_q.weight");
        keys.add(prefix + "transformer_blocks.0.attn2.to_k.weight");
    }

    /** The key layout of the released SD 1.5 UNet: 4 levels x 2 resnets, transformers on the 3 upper levels. */
    private static List<String> sd15Keys() {
        List<String> keys = new ArrayList<>(List.of("input_blocks.0.0.weight", "input_blocks.0.0.bias",
                "time_embed.0.weight", "time_embed.2.bias", "out.0.weight", "out.2.weight"));
        int levels = 4;
        int layers = 2;
        for (int i = 0; i < levels; i++) {
            for (int j = 0; j < layers; j++) {
                int block = 1 + i * (layers + 1) + j;
                resnet(keys, "input_blocks." + block + ".0.", i > 0 && j == 0);
                if (i < 3) transformer(keys, "input_blocks." + block + ".1.");
            }
            if (i < levels - 1) keys.add("input_blocks." + (i + 1) * (layers + 1) + ".0.op.weight");
        }
        resnet(keys, "middle_block.0.", false);
        transformer(keys, "middle_block.1.");
        resnet(keys, "middle_block.2.", false);
        for (int i = 0; i < levels; i++) {
            boolean attention = i > 0;
            for (int j = 0; j <= layers; j++) {
                int block = i * (layers + 1) + j;
                resnet(keys, "output_blocks." + block + ".0.", true);
                if (attention) transformer(keys, "output_blocks." + block + ".1.");
                if (j == layers && i < levels - 1) keys.add("output_blocks." + block + "." + (attention ? 2 : 1) + ".conv.weight");
            }
        }
        return keys;
    }

    @Test
    void theReleasedSd15LayoutIsInferredAndMapped() {
        List<String> keys = sd15Keys();
        assertThat(LdmUNetNames.layout(keys, "sd15")).isEqualTo(new LdmUNetNames.Layout(4, 2));
        Map<String, String> names = LdmUNetNames.canonicalToOriginal(keys, "sd15");
        assertThat(names).hasSize(keys.size());
        assertThat(names).containsEntry("conv_in.weight", "input_blocks.0.0.weight")
                .containsEntry("down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q.weight", "input_blocks.1.1.transformer_blocks.0.attn1.to_q.weight")
                .containsEntry("down_blocks.0.resnets.1.norm1.weight", "input_blocks.2.0.in_layers.0.weight")
                .containsEntry("down_blocks.0.downsamplers.0.conv.weight", "input_blocks.3.0.op.weight")
                .containsEntry("down_blocks.1.resnets.0.conv_shortcut.weight", "input_blocks.4.0.skip_connection.weight")
                .containsEntry("down_blocks.2.downsamplers.0.conv.weight", "input_blocks.9.0.op.weight")
                .containsEntry("down_blocks.3.resnets.1.conv2.weight", "input_blocks.11.0.out_layers.3.weight")
                .containsEntry("mid_block.attentions.0.proj_out.weight", "middle_block.1.proj_out.weight")
                .containsEntry("mid_block.resnets.1.time_emb_proj.bias", "middle_block.2.emb_layers.1.bias")
                .containsEntry("up_blocks.0.resnets.2.conv1.bias", "output_blocks.2.0.in_layers.2.bias")
                .containsEntry("up_blocks.0.upsamplers.0.conv.weight", "output_blocks.2.1.conv.weight")
                .containsEntry("up_blocks.1.attentions.0.norm.weight", "output_blocks.3.1.norm.weight")
                .containsEntry("up_blocks.1.upsamplers.0.conv.weight", "output_blocks.5.2.conv.weight")
                .containsEntry("up_blocks.2.upsamplers.0.conv.weight", "output_blocks.8.2.conv.weight")
                .containsEntry("up_blocks.3.attentions.2.transformer_blocks.0.ff.net.2.weight", "output_blocks.11.1.transformer_blocks.0.ff.net.2.weight")
                .containsEntry("time_embedding.linear_1.weight", "time_embed.0.weight")
                .containsEntry("time_embedding.linear_2.bias", "time_embed.2.bias")
                .containsEntry("conv_norm_out.weight", "out.0.weight")
                .containsEntry("conv_out.weight", "out.2.weight");
        assertThat(names.keySet()).noneMatch(n -> n.contains("input_blocks") || n.contains("output_blocks") || n.contains("layers."));
    }

    @Test
    void theSdxlFixtureUNetEqualsItsDiffusersUNet() {
        // A different layout (1 resnet per level, attention only on the lower level, depth-2 transformers,
        // label_emb): the same code must fit it.
        Path singleFile = FixtureCase.requireSingleFile("sdxl");
        Path folder = FixtureCase.requireDiffusersFolder("sdxl");
        try (SafetensorsFile file = SafetensorsFile.open(singleFile);
             WeightSource expected = DiffusersFolder.open(folder).weights("unet")) {
            WeightSource unet = LdmUNetNames.view(file, StableDiffusionSingleFile.UNET_PREFIX);
            ConvertFixtures.assertSameWeights(unet, expected);
            assertThat(unet.names()).contains("add_embedding.linear_1.weight")
                    .anyMatch(n -> n.matches("up_blocks\\.\\d+\\.attentions\\.\\d+\\.transformer_blocks\\.\\d+\\.attn2\\.to_k\\.weight"));
        }
    }

    @Test
    void anUnknownKeyIsNamedInTheError() {
        List<String> keys = sd15Keys();
        keys.add("input_blocks.1.0.mystery.weight");
        assertThatThrownBy(() -> LdmUNetNames.canonicalToOriginal(keys, "ckpt.safetensors"))
                .isInstanceOf(WeightsException.class)
                .hasMessageContaining("ckpt.safetensors").hasMessageContaining("input_blocks.1.0.mystery.weight");
    }

    @Test
    void aMisplacedDownsamplerIsReported() {
        List<String> keys = new ArrayList<>(sd15Keys());
        keys.removeIf(k -> k.startsWith("input_blocks.6.0.op"));
        assertThatThrownBy(() -> LdmUNetNames.layout(keys, "ckpt.safetensors"))
                .isInstanceOf(WeightsException.class).hasMessageContaining("ckpt.safetensors").hasMessageContaining("block 6");
    }
}
