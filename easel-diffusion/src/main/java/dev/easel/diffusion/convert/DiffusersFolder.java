package dev.easel.diffusion.convert;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.easel.engine.weights.MultiFileWeights;
import dev.easel.engine.weights.SafetensorsFile;
import dev.easel.engine.weights.WeightSource;
import dev.easel.engine.weights.WeightsException;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collections;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;

/**
 * A diffusers pipeline folder: {@code model_index.json} naming the pipeline class and its components, each
 * component a sub-folder with its {@code config.json} (or {@code scheduler_config.json}) and its weights as one
 * {@code .safetensors} file or as shards with a {@code .safetensors.index.json}. Weight names are exactly
 * diffusers' (or transformers') own.
 */
public final class DiffusersFolder {
    public static final String MODEL_INDEX = "model_index.json";
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final List<String> CONFIG_FILES = List.of("config.json", "scheduler_config.json");

    private final Path dir;
    private final JsonNode modelIndex;

    private DiffusersFolder(Path dir, JsonNode modelIndex) {
        this.dir = dir;
        this.modelIndex = modelIndex;
    }

    public static DiffusersFolder open(Path dir) {
        Path index = dir.resolve(MODEL_INDEX);
        if (!Files.isRegularFile(index)) {
            throw WeightsException.inFile(dir, "is not a diffusers folder: it has no " + MODEL_INDEX);
        }
        JsonNode root = readJson(index);
        if (!root.path("_class_name").isTextual()) {
            throw WeightsException.inFile(index, "has no _class_name naming the pipeline");
        }
        return new DiffusersFolder(dir, root);
    }

    static boolean isDiffusersFolder(Path path) {
        return Files.isDirectory(path) && Files.isRegularFile(path.resolve(MODEL_INDEX));
    }

    private static JsonNode readJson(Path file) {
        try {
            JsonNode node = JSON.readTree(file.toFile());
            if (node == null || !node.isObject()) throw WeightsException.inFile(file, "is not a JSON object");
            return node;
        } catch (IOException e) {
            throw WeightsException.inFile(file, "is not readable JSON: " + e.getMessage(), e);
        }
    }

    public Path dir() {
        return dir;
    }

    public JsonNode modelIndex() {
        return modelIndex;
    }

    /** The pipeline class, e.g. {@code StableDiffusionPipeline}. */
    public String pipelineClass() {
        return modelIndex.get("_class_name").asText();
    }

    /** Components that model_index.json fills in ({@code "unet": ["diffusers", "UNet2DConditionModel"]}); null slots are left out. */
    public Set<String> components() {
        Set<String> names = new LinkedHashSet<>();
        for (Map.Entry<String, JsonNode> e : modelIndex.properties()) {
            JsonNode v = e.getValue();
            if (!e.getKey().startsWith("_") && v.isArray() && v.size() == 2 && v.get(1).isTextual()) names.add(e.getKey());
        }
        return Collections.unmodifiableSet(names);
    }

    /** The class model_index.json gives a component, e.g. {@code CLIPTextModel}. */
    public String componentClass(String component) {
        requireComponent(component);
        return modelIndex.get(component).get(1).asText();
    }

    /** The component's {@code config.json} (or {@code scheduler_config.json}) as parsed JSON. */
    public JsonNode config(String component) {
        Path folder = requireComponent(component);
        for (String name : CONFIG_FILES) {
            Path file = folder.resolve(name);
            if (Files.isRegularFile(file)) return readJson(file);
        }
        throw WeightsException.inFile(folder, "has no " + String.join(" or ", CONFIG_FILES));
    }

    /**
     * Opens the component's weights: a sharded index if there is one, else its single {@code .safetensors} file.
     * Variant files ({@code *.fp16.safetensors}) are used only when they are the only weights there.
     * The caller closes the result.
     */
    public WeightSource weights(String component) {
        Path folder = requireComponent(component);
        List<Path> files = list(folder);
        List<Path> indexes = files.stream().filter(p -> name(p).endsWith(".safetensors.index.json")).toList();
        if (indexes.size() == 1) return MultiFileWeights.openIndex(indexes.getFirst());
        List<Path> singles = files.stream().filter(p -> name(p).endsWith(".safetensors")).toList();
        List<Path> plain = singles.stream().filter(p -> !name(p).replaceFirst("\\.safetensors$", "").contains(".")).toList();
        if (plain.size() == 1) return SafetensorsFile.open(plain.getFirst());
        if (plain.isEmpty() && singles.size() == 1) return SafetensorsFile.open(singles.getFirst());
        if (indexes.isEmpty()) {
            List<Path> variantIndexes = files.stream().filter(p -> name(p).matches(".*\\.safetensors\\.index\\.[^.]+\\.json")).toList();
            if (singles.isEmpty() && variantIndexes.size() == 1) return MultiFileWeights.openIndex(variantIndexes.getFirst());
        }
        if (singles.isEmpty() && indexes.isEmpty()) {
            boolean pickle = files.stream().anyMatch(p -> name(p).endsWith(".bin") || name(p).endsWith(".ckpt"));
            throw WeightsException.inFile(folder, pickle
                    ? "has only PyTorch pickle weights (.bin/.ckpt); Easel loads .safetensors only (pickles can run code)"
                    : "has no .safetensors weights");
        }
        throw WeightsException.inFile(folder, "has several candidate weight files, cannot tell which to load: "
                + Stream.concat(indexes.stream(), singles.stream()).map(DiffusersFolder::name).toList());
    }

    private Path requireComponent(String component) {
        if (!components().contains(component)) {
            throw WeightsException.inFile(dir.resolve(MODEL_INDEX), "lists no component '" + component + "' (has " + components() + ")");
        }
        Path folder = dir.resolve(component);
        if (!Files.isDirectory(folder)) {
            throw WeightsException.inFile(folder, "is missing: model_index.json lists component '" + component + "'");
        }
        return folder;
    }

    private static List<Path> list(Path folder) {
        try (Stream<Path> s = Files.list(folder)) {
            return s.filter(Files::isRegularFile).sorted().toList();
        } catch (IOException e) {
            throw WeightsException.inFile(folder, "cannot be listed: " + e, e);
        }
    }

    private static String name(Path p) {
        return p.getFileName().toString();
    }
}
