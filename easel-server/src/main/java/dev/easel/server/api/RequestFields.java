package dev.easel.server.api;

import com.fasterxml.jackson.databind.JsonNode;

import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * A request body, JSON or multipart, reduced to the same shape: scalar fields by name (multipart text
 * parts as JSON strings), and the image inputs with the field each came in.
 */
public record RequestFields(Map<String, JsonNode> fields, List<ImagePart> images, Optional<ImagePart> mask) {

    /**
     * One image as sent: {@code bytes} from a file part (raw image, or base64 text inside), or
     * {@code text} (base64 or a data URL) from a text field or JSON.
     */
    public record ImagePart(String param, byte[] bytes, String text) {
    }

    public Optional<JsonNode> get(String name) {
        JsonNode node = fields.get(name);
        return node == null || node.isNull() || node.isMissingNode() ? Optional.empty() : Optional.of(node);
    }
}
