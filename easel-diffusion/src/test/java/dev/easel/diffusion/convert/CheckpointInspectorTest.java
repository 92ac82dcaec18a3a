package dev.easel.diffusion.convert;

import dev.easel.diffusion.family.ModelFamily;
import dev.easel.diffusion.fixtures.FixtureCase;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

class CheckpointInspectorTest {
    @TempDir
    Path temp;

    /** The fixture families and what each is; the directory names are the fixtures format's. */
    private static final Map<String, ModelFamily> FAMILIES = Map.of("sd15", ModelFamily.SD15, "sdxl", ModelFamily.SDXL, "flux", ModelFamily.FLUX);

    /** Every whole-model single file of a family's cases, or the test is skipped where the fixtures hold none. */
    private static List<Path> singleFiles(String family) {
        List<Path> files = FixtureCase.modelSingleFiles(family);
        assumeTrue(!files.isEmpty(), "no " + family + " single file in " + FixtureCase.root());
        return files;
    }

    /** Flux cases, split by whether they ran a guidance-distilled (dev) transformer: those record a guidance input. */
    private static List<Path> fluxTransformers(boolean guidanceDistilled) {
        List<Path> files = FixtureCase.all("flux").stream().filter(c -> c.has("model_in.guidance") == guidanceDistilled)
                .flatMap(c -> c.singleFilePart("transformer").stream()).distinct().toList();
        assumeTrue(!files.isEmpty(), "no flux " + (guidanceDistilled ? "dev" : "schnell") + " transformer file in " + FixtureCase.root());
        return files;
    }

    // ---- the fixtures ----

    @Test
    void sd15SingleFile() {
        for (Path file : singleFiles("sd15")) {
            DetectedCheckpoint d = CheckpointInspector.inspect(file);
            assertThat(d.family()).as(file.toString()).isEqualTo(ModelFamily.SD15);
            assertThat(d.layout()).isEqualTo(DetectedCheckpoint.Layout.SINGLE_FILE);
            assertThat(d.components()).containsExactlyInAnyOrder("unet", "vae", "text_encoder");
            assertThat(d.reason()).contains("label_emb").contains("proj_in");
        }
    }

    @Test
    void sdxlSingleFile() {
        for (Path file : singleFiles("sdxl")) {
            DetectedCheckpoint d = CheckpointInspector.inspect(file);
            assertThat(d.family()).as(file.toString()).isEqualTo(ModelFamily.SDXL);
            assertThat(d.components()).containsExactlyInAnyOrder("unet", "vae", "text_encoder", "text_encoder_2");
        }
    }

    @Test
    void fluxSchnellSingleFiles() {
        for (Path file : fluxTransformers(false)) {
            DetectedCheckpoint schnell = CheckpointInspector.inspect(file);
            assertThat(schnell.family()).as(file.toString()).isEqualTo(ModelFamily.FLUX);
            assertThat(schnell.guidanceDistilled()).isFalse();
            assertThat(schnell.components()).containsExactly("transformer");
        }
    }

    @Test
    void fluxDevSingleFiles() {
        for (Path file : fluxTransformers(true)) {
            DetectedCheckpoint dev = CheckpointInspector.inspect(file);
            assertThat(dev.family()).as(file.toString()).isEqualTo(ModelFamily.FLUX);
            assertThat(dev.guidanceDistilled()).isTrue();
            assertThat(dev.reason()).contains("guidance_in");
        }
    }

    @Test
    void aStandaloneVaeIsNotAModel() {
        List<Path> autoencoders = FixtureCase.all().stream().flatMap(c -> c.singleFilePart("ae").stream()).distinct().toList();
        assumeTrue(!autoencoders.isEmpty(), "no standalone VAE file in " + FixtureCase.root());
        for (Path ae : autoencoders) {
            assertThatThrownBy(() -> CheckpointInspector.inspect(ae)).isInstanceOf(UnsupportedCheckpointException.class)
                    .hasMessageContaining(ae.toString()).hasMessageContaining("standalone VAE");
        }
    }

    @Test
    void fixtureDiffusersFolders() {
        List<String> withFolders = FixtureCase.familyNames().stream().filter(f -> FixtureCase.diffusersFolder(f).isPresent()).toList();
        assumeTrue(!withFolders.isEmpty(), "no diffusers folder in " + FixtureCase.root());
        for (String family : withFolders) {
            DetectedCheckpoint d = CheckpointInspector.inspect(FixtureCase.diffusersFolder(family).orElseThrow());
            assertThat(FAMILIES).as("a known family directory").containsKey(family);
            assertThat(d.family()).as(family).isEqualTo(FAMILIES.get(family));
            assertThat(d.layout()).isEqualTo(DetectedCheckpoint.Layout.DIFFUSERS_FOLDER);
            assertThat(d.reason()).contains("_class_name");
        }
    }

    // ---- crafted single files ----

    /** The keys that make an LDM UNet recognisable: conv_in, one transformer's proj_in. */
    private static Map<String, long[]> ldmUNet(long inChannels, boolean linearProjIn) {
        Map<String, long[]> shapes = new LinkedHashMap<>();
        shapes.put("model.diffusion_model.input_blocks.0.0.weight", new long[]{8, inChannels, 3, 3});
        shapes.put("model.diffusion_model.input_blocks.1.1.proj_in.weight", linearProjIn ? new long[]{8, 8} : new long[]{8, 8, 1, 1});
        shapes.put("first_stage_model.decoder.conv_in.weight", new long[]{8, 4, 3, 3});
        return shapes;
    }

    private void assertUnsupported(Map<String, long[]> shapes, String... fragments) {
        Path file = ConvertFixtures.craft(temp.resolve("crafted.safetensors"), shapes);
        assertThatThrownBy(() -> CheckpointInspector.inspect(file)).isInstanceOf(UnsupportedCheckpointException.class)
                .hasMessageContaining(file.toString())
                .satisfies(e -> assertThat(e.getMessage()).contains(fragments));
    }

    @Test
    void craftedSd15IsRecognisedByStructureAlone() {
        Map<String, long[]> shapes = ldmUNet(4, false);
        shapes.put("cond_stage_model.transformer.text_model.final_layer_norm.weight", new long[]{8});
        Path file = ConvertFixtures.craft(temp.resolve("sd15.safetensors"), shapes);
        assertThat(CheckpointInspector.inspect(file).family()).isEqualTo(ModelFamily.SD15);
    }

    @Test
    void sd2WithOpenClipAndLinearProjections() {
        Map<String, long[]> shapes = ldmUNet(4, true);
        shapes.put("cond_stage_model.model.ln_final.weight", new long[]{8});
        assertUnsupported(shapes, "Stable Diffusion 2.x", "OpenCLIP", "Linear proj_in");
    }

    @Test
    void sd2IsToldByLinearProjectionsEvenWithoutItsTextEncoder() {
        assertUnsupported(ldmUNet(4, true), "Stable Diffusion 2.x", "Linear proj_in");
    }

    @Test
    void sd3() {
        Map<String, long[]> shapes = new LinkedHashMap<>();
        shapes.put("model.diffusion_model.joint_blocks.0.x_block.attn.qkv.weight", new long[]{24, 8});
        shapes.put("model.diffusion_model.x_embedder.proj.weight", new long[]{8, 16, 2, 2});
        assertUnsupported(shapes, "Stable Diffusion 3", "joint_blocks");
    }

    @Test
    void nineChannelInpaintingUNet() {
        Map<String, long[]> shapes = ldmUNet(9, false);
        shapes.put("cond_stage_model.transformer.text_model.final_layer_norm.weight", new long[]{8});
        assertUnsupported(shapes, "inpainting", "9 channels");
    }

    @Test
    void sdxlRefiner() {
        Map<String, long[]> shapes = ldmUNet(4, true);
        shapes.put("model.diffusion_model.label_emb.0.0.weight", new long[]{8, 20});
        shapes.put("conditioner.embedders.0.model.ln_final.weight", new long[]{8});
        assertUnsupported(shapes, "refiner");
    }

    @Test
    void fluxWithExtraInputChannels() {
        Map<String, long[]> shapes = new LinkedHashMap<>();
        shapes.put("double_blocks.0.img_attn.qkv.weight", new long[]{24, 8});
        shapes.put("img_in.weight", new long[]{8, 384});
        assertUnsupported(shapes, "FLUX.1 variant", "384");
    }

    @Test
    void fluxUnderAComfyUiPrefix() {
        Map<String, long[]> shapes = new LinkedHashMap<>();
        shapes.put("model.diffusion_model.double_blocks.0.img_attn.qkv.weight", new long[]{24, 8});
        shapes.put("model.diffusion_model.img_in.weight", new long[]{8, 64});
        shapes.put("model.diffusion_model.guidance_in.in_layer.weight", new long[]{8, 256});
        Path file = ConvertFixtures.craft(temp.resolve("comfy.safetensors"), shapes);
        DetectedCheckpoint d = CheckpointInspector.inspect(file);
        assertThat(d.family()).isEqualTo(ModelFamily.FLUX);
        assertThat(d.guidanceDistilled()).isTrue();
    }

    @Test
    void picklesAreNeverOpened() throws IOException {
        Path ckpt = Files.write(temp.resolve("model.ckpt"), new byte[]{(byte) 0x80, 2});
        assertThatThrownBy(() -> CheckpointInspector.inspect(ckpt)).isInstanceOf(UnsupportedCheckpointException.class)
                .hasMessageContaining(ckpt.toString()).hasMessageContaining("pickle");
    }

    // ---- crafted diffusers folders ----

    private Path folder(String pipelineClass, String denoiser, String denoiserConfig) throws IOException {
        Path dir = Files.createDirectories(temp.resolve(pipelineClass));
        Files.writeString(dir.resolve("model_index.json"), "{\"_class_name\": \"" + pipelineClass + "\", \"" + denoiser
                + "\": [\"diffusers\", \"Model\"], \"text_encoder\": [\"transformers\", \"CLIPTextModel\"]}");
        Files.createDirectories(dir.resolve(denoiser));
        Files.writeString(dir.resolve(denoiser).resolve("config.json"), denoiserConfig);
        return dir;
    }

    @Test
    void diffusersFoldersOfUnsupportedKinds() throws IOException {
        Path sd2 = folder("StableDiffusionPipeline", "unet", "{\"in_channels\": 4, \"use_linear_projection\": true}");
        assertThatThrownBy(() -> CheckpointInspector.inspect(sd2)).isInstanceOf(UnsupportedCheckpointException.class)
                .hasMessageContaining("Stable Diffusion 2.x").hasMessageContaining(sd2.toString());
        Path inpaint = folder("StableDiffusionInpaintPipeline", "unet", "{\"in_channels\": 9}");
        assertThatThrownBy(() -> CheckpointInspector.inspect(inpaint)).isInstanceOf(UnsupportedCheckpointException.class)
                .hasMessageContaining("in_channels=9");
        Path sd3 = folder("StableDiffusion3Pipeline", "transformer", "{}");
        assertThatThrownBy(() -> CheckpointInspector.inspect(sd3)).isInstanceOf(UnsupportedCheckpointException.class)
                .hasMessageContaining("Stable Diffusion 3");
        Path other = folder("KandinskyV22Pipeline", "unet", "{}");
        assertThatThrownBy(() -> CheckpointInspector.inspect(other)).isInstanceOf(UnsupportedCheckpointException.class)
                .hasMessageContaining("KandinskyV22Pipeline");
    }

    @Test
    void anInpaintPipelineWithAFourChannelUNetIsSd15() throws IOException {
        Path dir = folder("StableDiffusionInpaintPipeline", "unet", "{\"in_channels\": 4, \"use_linear_projection\": false}");
        assertThat(CheckpointInspector.inspect(dir).family()).isEqualTo(ModelFamily.SD15);
    }
}
