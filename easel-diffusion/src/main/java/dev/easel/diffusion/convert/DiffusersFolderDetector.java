package dev.easel.diffusion.convert;

import dev.easel.diffusion.family.ModelFamily;
import com.fasterxml.jackson.databind.JsonNode;

import java.util.Set;

/**
 * Tells the family of a diffusers folder from {@code model_index.json}'s pipeline class, then checks the
 * denoiser's config for variants the class name does not reveal (SD 2.x shares SD 1.x's pipeline class but
 * has Linear projections; inpainting models take 9 input channels; FLUX.1-dev embeds guidance).
 */
final class DiffusersFolderDetector {
    private static final Set<String> SD_PIPELINES = Set.of(
            "StableDiffusionPipeline", "StableDiffusionImg2ImgPipeline", "StableDiffusionInpaintPipeline");
    private static final Set<String> SDXL_PIPELINES = Set.of(
            "StableDiffusionXLPipeline", "StableDiffusionXLImg2ImgPipeline", "StableDiffusionXLInpaintPipeline");
    private static final Set<String> FLUX_PIPELINES = Set.of("FluxPipeline", "FluxImg2ImgPipeline", "FluxInpaintPipeline");

    private DiffusersFolderDetector() {
    }

    static DetectedCheckpoint detect(DiffusersFolder folder) {
        String pipeline = folder.pipelineClass();
        String seen = "model_index.json _class_name " + pipeline;
        if (SD_PIPELINES.contains(pipeline)) return stableDiffusion(folder, seen);
        if (SDXL_PIPELINES.contains(pipeline)) return sdxl(folder, seen);
        if (FLUX_PIPELINES.contains(pipeline)) return flux(folder, seen);
        if (pipeline.startsWith("StableDiffusion3")) throw unsupported(folder, "Stable Diffusion 3 (" + seen + ")");
        throw unsupported(folder, "pipeline class " + pipeline + ", which Easel does not run");
    }

    private static DetectedCheckpoint stableDiffusion(DiffusersFolder folder, String seen) {
        JsonNode unet = folder.config("unet");
        if (unet.path("use_linear_projection").asBoolean(false)) {
            throw unsupported(folder, "Stable Diffusion 2.x (" + seen + ", unet use_linear_projection=true)");
        }
        String channels = checkInChannels(folder, unet, "Stable Diffusion 1.x");
        return found(folder, ModelFamily.SD15, false, seen + ", unet with conv proj_in, " + channels);
    }

    private static DetectedCheckpoint sdxl(DiffusersFolder folder, String seen) {
        if (!folder.components().contains("text_encoder")) {
            throw unsupported(folder, "the SDXL refiner (" + seen + " with only text_encoder_2)");
        }
        String channels = checkInChannels(folder, folder.config("unet"), "SDXL");
        return found(folder, ModelFamily.SDXL, false, seen + ", " + channels);
    }

    private static DetectedCheckpoint flux(DiffusersFolder folder, String seen) {
        JsonNode transformer = folder.config("transformer");
        int inChannels = transformer.path("in_channels").asInt(64);
        if (inChannels != 64) {
            throw unsupported(folder, "a FLUX.1 variant whose transformer takes " + inChannels + " channels (" + seen + ")");
        }
        boolean guidance = transformer.path("guidance_embeds").asBoolean(false);
        return found(folder, ModelFamily.FLUX, guidance, seen + ", transformer guidance_embeds=" + guidance);
    }

    private static String checkInChannels(DiffusersFolder folder, JsonNode unet, String family) {
        int inChannels = unet.path("in_channels").asInt(4);
        if (inChannels == 9) {
            throw unsupported(folder, "a " + family + " inpainting UNet (unet in_channels=9); Easel inpaints with the ordinary 4-channel model");
        }
        if (inChannels != 4) {
            throw unsupported(folder, "a " + family + " UNet with in_channels=" + inChannels);
        }
        return "unet in_channels=4";
    }

    private static DetectedCheckpoint found(DiffusersFolder folder, ModelFamily family, boolean guidance, String reason) {
        return new DetectedCheckpoint(folder.dir(), DetectedCheckpoint.Layout.DIFFUSERS_FOLDER, family,
                folder.components(), guidance, reason);
    }

    private static UnsupportedCheckpointException unsupported(DiffusersFolder folder, String found) {
        return new UnsupportedCheckpointException(folder.dir(), found);
    }
}
