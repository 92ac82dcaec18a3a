package dev.easel.server.api;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.TextNode;
import io.javalin.http.Context;
import jakarta.servlet.MultipartConfigElement;
import jakarta.servlet.ServletException;
import jakarta.servlet.http.Part;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * Reads an image request body in every encoding the SDKs and people use (DESIGN.md section 3):
 * JSON with {@code image} (string or list), OpenAI's {@code images[].image_url} and {@code mask.image_url};
 * multipart with {@code image}, repeated {@code image[]} or {@code image[0]} file parts (filename and
 * content type optional: the format comes from the bytes), base64 or data-URL text parts, and any extra
 * field ({@code strength}, {@code seed}) as a text part.
 */
final class RequestReader {
    private static final Pattern IMAGE_FIELD = Pattern.compile("images?(\\[\\d*])?");
    private static final int MAX_TEXT_PART = 1 << 20;

    private final ObjectMapper json;
    private final long maxBodyBytes;
    private final int maxImages;
    private final Path tempDir;

    RequestReader(ObjectMapper json, long maxBodyBytes, int maxImages, Path tempDir) {
        this.json = json;
        this.maxBodyBytes = maxBodyBytes;
        this.maxImages = maxImages;
        this.tempDir = tempDir;
    }

    RequestFields read(Context ctx) {
        String type = ctx.contentType() == null ? "" : ctx.contentType().toLowerCase(Locale.ROOT);
        if (type.startsWith("multipart/form-data")) return multipart(ctx);
        if (type.isEmpty() || type.startsWith("application/json") || type.contains("+json")) return json(ctx);
        throw new ApiException(415, "invalid_request_error", "unsupported_media_type", null,
                "Send the request as application/json or multipart/form-data.", null, false);
    }

    private RequestFields json(Context ctx) {
        byte[] body = ctx.bodyAsBytes();
        if (body.length > maxBodyBytes) throw ApiException.tooLarge(tooLargeMessage());
        JsonNode root;
        try {
            root = json.readTree(body);
        } catch (JsonProcessingException e) {
            throw ApiException.badRequest(null, "invalid_json", "The body is not valid JSON: " + e.getOriginalMessage());
        } catch (IOException e) {
            throw ApiException.badRequest(null, "invalid_json", "The body could not be read.");
        }
        if (root == null || root.isMissingNode()) {
            throw ApiException.badRequest(null, "invalid_json", "The request body is empty; send a JSON object.");
        }
        if (!root.isObject()) throw ApiException.badRequest(null, "invalid_json", "The body must be a JSON object.");
        Map<String, JsonNode> fields = new LinkedHashMap<>();
        List<RequestFields.ImagePart> images = new ArrayList<>();
        Optional<RequestFields.ImagePart> mask = Optional.empty();
        for (Iterator<Map.Entry<String, JsonNode>> it = root.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            String name = e.getKey();
            JsonNode v = e.getValue();
            if (name.equals("image") || name.equals("images") || IMAGE_FIELD.matcher(name).matches()) {
                collectJsonImages(name, v, images);
            } else if (name.equals("mask")) {
                if (!v.isNull()) mask = Optional.of(new RequestFields.ImagePart("mask", null, jsonImageText("mask", v)));
            } else {
                fields.put(name, v);
            }
        }
        checkImageCount(images);
        return new RequestFields(fields, images, mask);
    }

    private void collectJsonImages(String name, JsonNode v, List<RequestFields.ImagePart> into) {
        if (v.isNull()) return;
        if (v.isArray()) {
            for (JsonNode item : v) into.add(new RequestFields.ImagePart("image", null, jsonImageText(name, item)));
        } else {
            into.add(new RequestFields.ImagePart("image", null, jsonImageText(name, v)));
        }
        checkImageCount(into);
    }

    /** A JSON image: a string, or OpenAI's {@code {"image_url": "..."}} reference. */
    private static String jsonImageText(String param, JsonNode v) {
        if (v.isTextual()) return v.asText();
        if (v.isObject()) {
            if (v.hasNonNull("image_url")) {
                JsonNode url = v.get("image_url");
                if (url.isTextual()) return url.asText();
                if (url.isObject() && url.path("url").isTextual()) return url.get("url").asText();
            }
            if (v.hasNonNull("file_id")) {
                throw ApiException.badRequest(param, "unsupported_value",
                        "File ids are not supported by this server: send the image itself (file part, base64 or data URL).");
            }
        }
        throw ApiException.invalidValue(param, "'" + param + "' must be a base64 string, a data URL or {\"image_url\": \"data:...\"}.");
    }

    private RequestFields multipart(Context ctx) {
        long declared = ctx.req().getContentLengthLong();
        if (declared > maxBodyBytes) throw ApiException.tooLarge(tooLargeMessage());
        ctx.req().setAttribute("org.eclipse.jetty.multipartConfig",
                new MultipartConfigElement(tempDir.toString(), maxBodyBytes, maxBodyBytes, 1 << 20));
        List<Part> parts;
        try {
            parts = new ArrayList<>(ctx.req().getParts());
        } catch (IOException | ServletException | IllegalStateException e) {
            if (isTooLarge(e)) throw ApiException.tooLarge(tooLargeMessage());
            throw ApiException.badRequest(null, "invalid_multipart", "The multipart body could not be read.");
        }
        Map<String, JsonNode> fields = new LinkedHashMap<>();
        List<RequestFields.ImagePart> images = new ArrayList<>();
        Optional<RequestFields.ImagePart> mask = Optional.empty();
        try {
            for (Part part : parts) {
                String name = part.getName() == null ? "" : part.getName();
                if (IMAGE_FIELD.matcher(name).matches()) {
                    images.add(new RequestFields.ImagePart("image", readAll(part, maxBodyBytes), null));
                    checkImageCount(images);
                } else if (name.equals("mask")) {
                    mask = Optional.of(new RequestFields.ImagePart("mask", readAll(part, maxBodyBytes), null));
                } else if (!name.isEmpty()) {
                    byte[] text = readAll(part, MAX_TEXT_PART);
                    fields.put(name, TextNode.valueOf(new String(text, StandardCharsets.UTF_8)));
                }
            }
        } catch (IOException e) {
            throw ApiException.badRequest(null, "invalid_multipart", "A multipart part could not be read.");
        } finally {
            for (Part p : parts) {
                try {
                    p.delete();
                } catch (IOException ignored) {
                    // temp file already gone
                }
            }
        }
        return new RequestFields(fields, images, mask);
    }

    private static byte[] readAll(Part part, long max) throws IOException {
        if (part.getSize() > max) {
            throw ApiException.tooLarge("The field '" + part.getName() + "' is larger than " + max + " bytes.");
        }
        try (InputStream in = part.getInputStream()) {
            return in.readAllBytes();
        }
    }

    private void checkImageCount(List<RequestFields.ImagePart> images) {
        if (images.size() > maxImages) {
            throw ApiException.invalidValue("image", "At most " + maxImages + " images may be sent.");
        }
    }

    private static boolean isTooLarge(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            String m = t.getMessage() == null ? "" : t.getMessage().toLowerCase(Locale.ROOT);
            if (m.contains("exceed") || m.contains("too large") || m.contains("max") && m.contains("size")) return true;
        }
        return false;
    }

    private String tooLargeMessage() {
        return "The request body is larger than this server accepts (" + (maxBodyBytes >> 20) + " MiB).";
    }
}
