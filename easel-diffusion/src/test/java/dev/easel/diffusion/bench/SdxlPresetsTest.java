package dev.easel.diffusion.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.easel.diffusion.model.clip.ClipTextConfig;
import dev.easel.diffusion.model.clip.ClipTextModel;
import dev.easel.diffusion.model.unet.UNet2DCondition;
import dev.easel.diffusion.model.unet.UNetConfig;
import dev.easel.diffusion.model.vae.AutoencoderKL;
import dev.easel.diffusion.model.vae.VaeConfig;
import org.junit.jupiter.api.Test;

import java.io.InputStream;
import java.util.HashMap;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The SDXL presets the bench writes random checkpoints from have exactly the parameter counts of the released
 * SDXL base 1.0 components (as diffusers and transformers count them).
 */
class SdxlPresetsTest {
    private static JsonNode preset(String name) throws Exception {
        try (InputStream in = SdxlPresetsTest.class.getResourceAsStream("/dev/easel/diffusion/presets/sdxl/" + name)) {
            return new ObjectMapper().readTree(in);
        }
    }

    private static long count(Map<String, long[]> parameters) {
        long n = 0;
        for (long[] shape : parameters.values()) {
            long e = 1;
            for (long d : shape) e *= d;
            n += e;
        }
        return n;
    }

    @Test
    void unetHas2567MillionParameters() throws Exception {
        assertThat(count(UNet2DCondition.graph(UNetConfig.fromDiffusers(preset("unet.json"))).weights())).isEqualTo(2_567_463_684L);
    }

    @Test
    void textEncodersAreClipLAndOpenClipBigG() throws Exception {
        // as transformers counts them (the position_ids buffer is not a parameter)
        assertThat(count(ClipTextModel.graph(ClipTextConfig.fromHuggingFace(preset("text_encoder.json"), false)).weights()))
                .isEqualTo(123_060_480L);
        assertThat(count(ClipTextModel.graph(ClipTextConfig.fromHuggingFace(preset("text_encoder_2.json"), true)).weights()))
                .isEqualTo(694_659_840L);
    }

    @Test
    void vaeHas84MillionParameters() throws Exception {
        VaeConfig vae = VaeConfig.fromDiffusers(preset("vae.json"));
        Map<String, long[]> all = new HashMap<>(AutoencoderKL.encoder(vae).weights());
        all.putAll(AutoencoderKL.decoder(vae).weights());
        assertThat(count(all)).isEqualTo(83_653_863L);
        assertThat(vae.scalingFactor()).isEqualTo(0.13025f);
    }
}
