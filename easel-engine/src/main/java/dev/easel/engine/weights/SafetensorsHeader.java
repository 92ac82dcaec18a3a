package dev.easel.engine.weights;

import dev.easel.engine.tensor.FloatTensor;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The JSON header of a safetensors file, parsed and checked against the size of the data area that
 * follows it, so that every later read of a tensor is known to stay inside the file.
 *
 * @param tensors every tensor, sorted by position in the file
 */
record SafetensorsHeader(Map<String, String> metadata, List<TensorInfo> tensors) {
    static final String METADATA_KEY = "__metadata__";

    // A repeated tensor name would make one of the two unreachable: refuse it instead of keeping the last.
    private static final ObjectMapper JSON = JsonMapper.builder()
            .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
            .build();

    /**
     * @param dataStart position of the data area in the file (8 + header length)
     * @param dataSize  bytes from {@code dataStart} to the end of the file
     */
    static SafetensorsHeader parse(Path file, byte[] json, long dataStart, long dataSize) {
        JsonNode root;
        try {
            root = JSON.readTree(json);
        } catch (JacksonException e) {
            throw WeightsException.inFile(file, "header is not valid JSON: " + e.getOriginalMessage(), e);
        } catch (IOException e) {
            throw WeightsException.inFile(file, "header cannot be parsed: " + e.getMessage(), e);
        }
        if (root == null || !root.isObject()) {
            throw WeightsException.inFile(file, "header is not a JSON object");
        }
        Map<String, String> metadata = Map.of();
        List<TensorInfo> tensors = new ArrayList<>();
        for (Map.Entry<String, JsonNode> entry : root.properties()) {
            if (entry.getKey().equals(METADATA_KEY)) {
                metadata = parseMetadata(file, entry.getValue());
            } else {
                tensors.add(parseTensor(file, entry.getKey(), entry.getValue(), dataStart, dataSize));
            }
        }
        tensors.sort(Comparator.comparingLong(TensorInfo::byteOffset));
        checkNoOverlap(file, tensors, dataStart);
        return new SafetensorsHeader(metadata, Collections.unmodifiableList(tensors));
    }

    private static Map<String, String> parseMetadata(Path file, JsonNode node) {
        if (!node.isObject()) {
            throw WeightsException.inFile(file, METADATA_KEY + " is not a JSON object");
        }
        Map<String, String> metadata = new LinkedHashMap<>();
        node.properties().forEach(e -> metadata.put(e.getKey(), e.getValue().isTextual() ? e.getValue().asText() : e.getValue().toString()));
        return Collections.unmodifiableMap(metadata);
    }

    private static TensorInfo parseTensor(Path file, String name, JsonNode node, long dataStart, long dataSize) {
        if (!node.isObject()) {
            throw WeightsException.forTensor(file, name, "is not described by a JSON object: " + node);
        }
        JsonNode dtypeNode = node.get("dtype");
        if (dtypeNode == null || !dtypeNode.isTextual()) {
            throw WeightsException.forTensor(file, name, "has no dtype string");
        }
        String dtypeName = dtypeNode.asText();
        DType dtype = DType.fromSafetensorsName(dtypeName).orElseThrow(() -> WeightsException.forTensor(file, name,
                "has unknown dtype '" + dtypeName + "' (known: " + Arrays.toString(DType.values()) + ")"));
        long[] shape = nonNegativeLongs(file, name, node, "shape", -1);
        long[] offsets = nonNegativeLongs(file, name, node, "data_offsets", 2);
        if (offsets[0] > offsets[1]) {
            throw WeightsException.forTensor(file, name, "has data_offsets " + Arrays.toString(offsets) + " that end before they begin");
        }
        long needed;
        try {
            needed = Math.multiplyExact(FloatTensor.elementCount(shape), (long) dtype.byteSize());
        } catch (ArithmeticException e) {
            throw WeightsException.forTensor(file, name, "has shape " + Arrays.toString(shape) + " too large to address");
        }
        long span = offsets[1] - offsets[0];
        if (span != needed) {
            throw WeightsException.forTensor(file, name, "has shape " + Arrays.toString(shape) + " of " + dtype
                    + ", which needs " + needed + " bytes, but its data_offsets " + Arrays.toString(offsets) + " span " + span);
        }
        if (offsets[1] > dataSize) {
            throw WeightsException.forTensor(file, name, "has data_offsets " + Arrays.toString(offsets)
                    + " past the end of the data area (" + dataSize + " bytes after the header): the file is truncated or corrupt");
        }
        return new TensorInfo(name, dtype, shape, dataStart + offsets[0], needed);
    }

    private static long[] nonNegativeLongs(Path file, String tensor, JsonNode parent, String field, int expectedLength) {
        JsonNode node = parent.get(field);
        if (node == null || !node.isArray() || (expectedLength >= 0 && node.size() != expectedLength)) {
            String want = expectedLength >= 0 ? "an array of " + expectedLength + " integers" : "an array of integers";
            throw WeightsException.forTensor(file, tensor, "has " + field + " " + node + ", expected " + want);
        }
        long[] values = new long[node.size()];
        for (int i = 0; i < values.length; i++) {
            JsonNode v = node.get(i);
            if (!v.isIntegralNumber() || !v.canConvertToLong() || v.asLong() < 0) {
                throw WeightsException.forTensor(file, tensor, "has " + field + " " + node + " with an entry that is not a non-negative integer");
            }
            values[i] = v.asLong();
        }
        return values;
    }

    /** Tensors must not share bytes: that is either corruption or a file crafted to alias weights. */
    private static void checkNoOverlap(Path file, List<TensorInfo> sortedTensors, long dataStart) {
        TensorInfo furthest = null;
        long furthestEnd = 0;
        for (TensorInfo t : sortedTensors) {
            if (t.byteLength() == 0) continue;
            long end = t.byteOffset() + t.byteLength();
            if (furthest != null && t.byteOffset() < furthestEnd) {
                throw WeightsException.forTensor(file, t.name(), "overlaps tensor '" + furthest.name() + "': bytes "
                        + range(t, dataStart) + " and " + range(furthest, dataStart) + " of the data area");
            }
            if (end > furthestEnd) {
                furthest = t;
                furthestEnd = end;
            }
        }
    }

    private static String range(TensorInfo t, long dataStart) {
        long begin = t.byteOffset() - dataStart;
        return "[" + begin + ", " + (begin + t.byteLength()) + ")";
    }
}
