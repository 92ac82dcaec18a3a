package dev.easel.diffusion.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.easel.diffusion.model.clip.ClipTextConfig;
import dev.easel.diffusion.model.clip.ClipTextModel;
import dev.easel.diffusion.model.unet.UNet2DCondition;
import dev.easel.diffusion.model.unet.UNetConfig;
import dev.easel.diffusion.model.vae.AutoencoderKL;
import dev.easel.diffusion.model.vae.VaeConfig;
import dev.easel.engine.weights.DType;
import dev.easel.engine.weights.SafetensorsWriter;
import dev.easel.engine.weights.TensorData;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * Writes a diffusers folder of the real model's size with random fp16 weights, from the models' own
 * parameter lists (what the graphs declare), for benchmarks: real checkpoints cannot be downloaded
 * here. Written once into a cache folder and reused.
 */
public final class RandomCheckpoint {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String PRESETS = "/dev/easel/diffusion/presets/";

    private RandomCheckpoint() {
    }

    /** The real-size SD 1.5 folder under {@code cache}, writing it first if absent. */
    public static Path stableDiffusion15(Path cache) {
        return folder(cache, "sd15", List.of("text_encoder"));
    }

    /**
     * The real-size SDXL base folder under {@code cache} (UNet 2.6 B, CLIP-L, OpenCLIP-G, VAE; about 7 GB of fp16),
     * writing it first if absent. Its scheduler is SDXL Lightning's (Euler, trailing timesteps).
     */
    public static Path stableDiffusionXL(Path cache) {
        return folder(cache, "sdxl", List.of("text_encoder", "text_encoder_2"));
    }

    /**
     * {@code <cache>/<preset>-random} from the preset's configs: UNet, VAE and the text encoders named (the last
     * of two carries a projection, as SDXL's second encoder does). Written under a temporary name and renamed
     * when complete, so an interrupted run is never mistaken for a checkpoint.
     */
    private static Path folder(Path cache, String preset, List<String> textEncoders) {
        Path folder = cache.resolve(preset + "-random");
        if (Files.isRegularFile(folder.resolve("model_index.json"))) return folder;
        try {
            Path partial = Files.createDirectories(cache).resolve(preset + "-random.partial");
            deleteRecursively(partial);
            JsonNode unet = preset(preset + "/unet.json");
            JsonNode vae = preset(preset + "/vae.json");
            writeComponent(partial, "unet", "diffusion_pytorch_model.safetensors", unet,
                    UNet2DCondition.graph(UNetConfig.fromDiffusers(unet)).weights());
            Map<String, long[]> vaeWeights = new LinkedHashMap<>(AutoencoderKL.encoder(VaeConfig.fromDiffusers(vae)).weights());
            vaeWeights.putAll(AutoencoderKL.decoder(VaeConfig.fromDiffusers(vae)).weights());
            writeComponent(partial, "vae", "diffusion_pytorch_model.safetensors", vae, vaeWeights);
            for (int i = 0; i < textEncoders.size(); i++) {
                JsonNode text = preset(preset + "/" + textEncoders.get(i) + ".json");
                boolean projection = i > 0;
                writeComponent(partial, textEncoders.get(i), "model.safetensors", text,
                        ClipTextModel.graph(ClipTextConfig.fromHuggingFace(text, projection)).weights());
            }
            Files.createDirectories(partial.resolve("scheduler"));
            JSON.writeValue(partial.resolve("scheduler/scheduler_config.json").toFile(), preset(preset + "/scheduler.json"));
            JSON.writeValue(partial.resolve("model_index.json").toFile(), preset(preset + "/model_index.json"));
            Files.move(partial, folder);
            return folder;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write the random checkpoint under " + cache, e);
        }
    }

    private static void writeComponent(Path root, String component, String file, JsonNode config,
                                       Map<String, long[]> parameters) throws IOException {
        Path dir = Files.createDirectories(root.resolve(component));
        JSON.writeValue(dir.resolve("config.json").toFile(), config);
        List<SafetensorsWriter.Entry> entries = new ArrayList<>();
        long seed = 1;
        for (Map.Entry<String, long[]> p : parameters.entrySet()) {
            entries.add(new SafetensorsWriter.Entry(p.getKey(), DType.F16, p.getValue(),
                    values(p.getKey(), p.getValue(), seed++)));
        }
        SafetensorsWriter.write(dir.resolve(file), entries);
    }

    /**
     * Norm scales 1, biases 0, other weights uniform with variance 1/fan-in: activations stay in a
     * normal range, so timings are not distorted by overflow or denormals.
     */
    private static TensorData values(String name, long[] shape, long seed) {
        return TensorData.generated(DType.F16, count(shape), chunks(name, shape, seed));
    }

    static TensorData.FloatChunks chunks(String name, long[] shape, long seed) {
        if (shape.length == 1) {
            float constant = name.endsWith(".weight") || name.endsWith(".scale") ? 1f : 0f;
            return (chunk, length) -> java.util.Arrays.fill(chunk, 0, length, constant);
        }
        long fanIn = count(shape) / shape[0];
        float bound = (float) Math.sqrt(3.0 / fanIn);
        SplittableRandom random = new SplittableRandom(seed);
        return (chunk, length) -> {
            for (int i = 0; i < length; i++) chunk[i] = (float) ((random.nextDouble() * 2 - 1) * bound);
        };
    }

    static long count(long[] shape) {
        long count = 1;
        for (long d : shape) count *= d;
        return count;
    }

    private static JsonNode preset(String name) throws IOException {
        try (InputStream in = RandomCheckpoint.class.getResourceAsStream(PRESETS + name)) {
            if (in == null) throw new IOException("missing preset " + name);
            return JSON.readTree(in);
        }
    }

    static void deleteRecursively(Path dir) throws IOException {
        if (!Files.exists(dir)) return;
        try (var paths = Files.walk(dir)) {
            for (Path p : paths.sorted(java.util.Comparator.reverseOrder()).toList()) Files.delete(p);
        }
    }
}
