package dev.easel.server.catalog;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.HashSet;
import java.util.Optional;
import java.util.Set;

/**
 * A cheap look at a checkpoint the catalog does not name, to list it with its family (or with the reason
 * it cannot be served) without loading it: the tensor names of a {@code .safetensors} header, or the
 * pipeline class of a diffusers folder's {@code model_index.json}. The pipeline loader stays the judge:
 * when loading fails, its message replaces this guess.
 */
public final class CheckpointProbe {
    private static final long MAX_HEADER = 100L * 1024 * 1024;
    private static final ObjectMapper JSON = new ObjectMapper();

    /** The family found, or why none was. */
    public record Result(Optional<String> family, String detail) {
        static Result of(String family) {
            return new Result(Optional.of(family), family);
        }

        static Result unknown(String why) {
            return new Result(Optional.empty(), why);
        }
    }

    public Result probe(Path weights) {
        try {
            if (Files.isDirectory(weights)) return probeFolder(weights);
            return probeSafetensors(weights);
        } catch (IOException | RuntimeException e) {
            return Result.unknown("cannot read the checkpoint: " + e.getMessage());
        }
    }

    private Result probeFolder(Path dir) throws IOException {
        Path index = dir.resolve("model_index.json");
        if (!Files.isRegularFile(index)) return Result.unknown("a folder without model_index.json is not a diffusers model");
        JsonNode node = JSON.readTree(index.toFile());
        String cls = node.path("_class_name").asText("");
        return switch (cls) {
            case "StableDiffusionPipeline", "StableDiffusionImg2ImgPipeline", "StableDiffusionInpaintPipeline" -> Result.of("sd15");
            case "StableDiffusionXLPipeline", "StableDiffusionXLImg2ImgPipeline", "StableDiffusionXLInpaintPipeline" -> Result.of("sdxl");
            case "FluxPipeline", "FluxImg2ImgPipeline", "FluxInpaintPipeline" -> Result.of("flux");
            case "" -> Result.unknown("model_index.json names no pipeline class");
            default -> Result.unknown("the diffusers pipeline " + cls + " is not a supported family (SD 1.5, SDXL, FLUX.1)");
        };
    }

    private Result probeSafetensors(Path file) throws IOException {
        Set<String> keys = safetensorsKeys(file);
        boolean unet = keys.stream().anyMatch(k -> k.startsWith("model.diffusion_model.input_blocks."));
        if (keys.stream().anyMatch(k -> k.startsWith("double_blocks.") || k.startsWith("model.diffusion_model.double_blocks."))) {
            return Result.of("flux");
        }
        if (keys.stream().anyMatch(k -> k.startsWith("single_transformer_blocks.") || k.startsWith("transformer_blocks.0.ff_context."))) {
            return Result.of("flux");
        }
        if (unet && (keys.stream().anyMatch(k -> k.startsWith("conditioner.embedders.")) || keys.contains("model.diffusion_model.label_emb.0.0.weight"))) {
            return Result.of("sdxl");
        }
        if (unet && keys.stream().anyMatch(k -> k.startsWith("cond_stage_model.model."))) {
            return Result.unknown("Stable Diffusion 2.x checkpoints (OpenCLIP text encoder) are not supported");
        }
        if (unet && keys.stream().anyMatch(k -> k.startsWith("cond_stage_model.transformer."))) {
            return Result.of("sd15");
        }
        if (keys.stream().anyMatch(k -> k.startsWith("lora_") || k.contains(".lora_"))) {
            return Result.unknown("a LoRA is not a full model");
        }
        if (keys.stream().anyMatch(k -> k.startsWith("encoder.down.") || k.startsWith("decoder.up."))) {
            return Result.unknown("a VAE alone is not a full model");
        }
        return Result.unknown("not a recognized SD 1.5, SDXL or FLUX.1 checkpoint");
    }

    /** The tensor names in a safetensors header (8-byte little-endian length, then JSON). */
    static Set<String> safetensorsKeys(Path file) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            ByteBuffer len = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
            while (len.hasRemaining()) {
                if (ch.read(len) < 0) throw new IOException("shorter than a safetensors header");
            }
            long n = len.flip().getLong();
            if (n <= 1 || n > MAX_HEADER || n > ch.size() - 8) throw new IOException("not a safetensors file");
            ByteBuffer header = ByteBuffer.allocate((int) n);
            while (header.hasRemaining()) {
                if (ch.read(header) < 0) throw new IOException("truncated safetensors header");
            }
            Set<String> keys = new HashSet<>();
            try (JsonParser p = new JsonFactory().createParser(header.array())) {
                if (p.nextToken() != JsonToken.START_OBJECT) throw new IOException("not a safetensors file");
                while (p.nextToken() == JsonToken.FIELD_NAME) {
                    keys.add(p.currentName());
                    p.nextToken();
                    p.skipChildren();
                }
            }
            return keys;
        }
    }
}
