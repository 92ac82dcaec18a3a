package dev.easel.engine.weights;

import dev.easel.engine.quant.BlockFormat;
import dev.easel.engine.quant.QuantizedWeight;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * The union of several sources seen as one: the shards of a large model
 * ({@code model.safetensors.index.json} with {@code model-00001-of-00002.safetensors} ...), or components
 * distributed as separate files. A tensor name present in two parts is an error, never a silent choice.
 * Closing it closes its parts.
 */
public final class MultiFileWeights implements WeightSource {
    private static final ObjectMapper JSON = new ObjectMapper();

    private final String location;
    private final List<WeightSource> parts;
    private final Map<String, WeightSource> owners;

    public MultiFileWeights(String location, List<? extends WeightSource> parts) {
        this.location = location;
        this.parts = List.copyOf(parts);
        Map<String, WeightSource> byName = new LinkedHashMap<>();
        for (WeightSource part : this.parts) {
            for (String name : part.names()) {
                WeightSource previous = byName.putIfAbsent(name, part);
                if (previous != null) {
                    throw WeightsException.forTensor(location, name,
                            "is in both " + previous.location() + " and " + part.location());
                }
            }
        }
        this.owners = Collections.unmodifiableMap(byName);
    }

    /** Opens each file; on any failure closes those already opened. */
    public static MultiFileWeights open(List<Path> files) {
        List<SafetensorsFile> opened = new ArrayList<>();
        try {
            for (Path file : files) opened.add(SafetensorsFile.open(file));
            return new MultiFileWeights(files.toString(), opened);
        } catch (RuntimeException e) {
            opened.forEach(SafetensorsFile::close);
            throw e;
        }
    }

    /**
     * Opens the shards named by a Hugging Face index file ({@code *.safetensors.index.json}: a
     * {@code weight_map} from tensor name to shard file, relative to the index) and checks that each tensor
     * is where the index says.
     */
    public static MultiFileWeights openIndex(Path indexFile) {
        Map<String, String> weightMap = readWeightMap(indexFile);
        Path folder = indexFile.toAbsolutePath().getParent();
        Map<String, SafetensorsFile> shards = new LinkedHashMap<>();
        try {
            for (String shard : new LinkedHashSet<>(weightMap.values())) {
                Path file = folder.resolve(shard);
                if (!Files.isRegularFile(file)) {
                    throw WeightsException.inFile(indexFile, "names shard '" + shard + "', which is not in " + folder);
                }
                shards.put(shard, SafetensorsFile.open(file));
            }
            weightMap.forEach((tensor, shard) -> {
                if (!shards.get(shard).hasTensor(tensor)) {
                    throw WeightsException.forTensor(indexFile, tensor, "is listed in shard '" + shard + "', which does not hold it");
                }
            });
            return new MultiFileWeights(indexFile.toString(), List.copyOf(shards.values()));
        } catch (RuntimeException e) {
            shards.values().forEach(SafetensorsFile::close);
            throw e;
        }
    }

    private static Map<String, String> readWeightMap(Path indexFile) {
        JsonNode root;
        try {
            root = JSON.readTree(indexFile.toFile());
        } catch (IOException e) {
            throw WeightsException.inFile(indexFile, "is not a readable JSON index: " + e.getMessage(), e);
        }
        JsonNode map = root == null ? null : root.get("weight_map");
        if (map == null || !map.isObject() || map.isEmpty()) {
            throw WeightsException.inFile(indexFile, "has no weight_map object");
        }
        Map<String, String> weightMap = new LinkedHashMap<>();
        for (Map.Entry<String, JsonNode> e : map.properties()) {
            if (!e.getValue().isTextual()) {
                throw WeightsException.forTensor(indexFile, e.getKey(), "has shard " + e.getValue() + ", expected a file name");
            }
            weightMap.put(e.getKey(), e.getValue().asText());
        }
        return weightMap;
    }

    public List<WeightSource> parts() {
        return parts;
    }

    @Override
    public String location() {
        return location;
    }

    @Override
    public Set<String> names() {
        return owners.keySet();
    }

    @Override
    public TensorInfo info(String name) {
        return owner(name).info(name);
    }

    @Override
    public ByteBuffer float32(String name, Arena arena) {
        return owner(name).float32(name, arena);
    }

    @Override
    public Optional<QuantizedWeight> quantized(String name, BlockFormat format, Arena arena) {
        return owner(name).quantized(name, format, arena);
    }

    private WeightSource owner(String name) {
        WeightSource part = owners.get(name);
        if (part == null) {
            throw WeightsException.forTensor(location, name, "is in none of the " + parts.size() + " files");
        }
        return part;
    }

    @Override
    public void close() {
        RuntimeException failure = null;
        for (WeightSource part : parts) {
            try {
                part.close();
            } catch (RuntimeException e) {
                if (failure == null) failure = e; else failure.addSuppressed(e);
            }
        }
        if (failure != null) throw failure;
    }
}
