package dev.easel.server.api;

import com.fasterxml.jackson.databind.JsonNode;
import dev.easel.server.config.ServerConfig;
import dev.easel.server.image.ImageFormat;

import java.math.BigDecimal;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;

/**
 * The parameters of {@code /v1/images/generations} and {@code /v1/images/edits}, type-checked and
 * bounded; what depends on the model (size limits, tier) is checked once the model is known.
 * Numbers and booleans may come as JSON values or as multipart text.
 */
public record ImageParams(
        Optional<String> model,
        String prompt,
        int n,
        Optional<String> size,
        Optional<Integer> width,
        Optional<Integer> height,
        boolean urlResponse,
        ImageFormat outputFormat,
        int outputCompression,
        Optional<String> user,
        boolean stream,
        int partialImages,
        Optional<Long> seed,
        Optional<String> negativePrompt,
        Optional<Integer> steps,
        Optional<Float> guidanceScale,
        Optional<String> sampler,
        Optional<Float> strength) {

    public static final int MAX_N = 10;
    public static final int MAX_PARTIAL_IMAGES = 8;
    private static final Set<String> QUALITIES = Set.of("auto", "standard", "hd", "low", "medium", "high");
    private static final Set<String> STYLES = Set.of("vivid", "natural");
    private static final Set<String> MODERATION = Set.of("auto", "low");
    private static final Set<String> FIDELITY = Set.of("high", "low");

    static ImageParams parse(RequestFields f, ServerConfig.Limits limits, boolean edit) {
        String prompt = string(f, "prompt", limits.maxPromptChars())
                .filter(p -> !p.isBlank())
                .orElseThrow(() -> ApiException.badRequest("prompt", "missing_required_parameter",
                        "Missing required parameter: 'prompt'."));
        int n = integer(f, "n", 1, MAX_N).orElse(1);
        Optional<String> size = string(f, "size", 32).map(s -> s.trim().toLowerCase(Locale.ROOT));
        if (size.isPresent() && !size.get().equals("auto") && !size.get().matches("\\d{1,5}x\\d{1,5}")) {
            throw ApiException.badRequest("size", "invalid_size",
                    "Invalid size '" + size.get() + "': use WIDTHxHEIGHT (for example 512x512) or 'auto'.");
        }
        Optional<Integer> width = integer(f, "width", 1, 16384);
        Optional<Integer> height = integer(f, "height", 1, 16384);
        if (width.isPresent() != height.isPresent()) {
            throw ApiException.invalidValue(width.isPresent() ? "height" : "width", "Give both 'width' and 'height', or use 'size'.");
        }
        String responseFormat = oneOf(f, "response_format", Set.of("b64_json", "url")).orElse("b64_json");
        ImageFormat format = string(f, "output_format", 16)
                .map(s -> ImageFormat.parse(s).orElseThrow(() -> ApiException.invalidValue("output_format",
                        "Invalid output_format '" + s + "': use png, jpeg or webp.")))
                .orElse(ImageFormat.PNG);
        int compression = integer(f, "output_compression", 0, 100).orElse(100);
        Optional<String> user = string(f, "user", limits.maxUserChars());
        boolean stream = bool(f, "stream").orElse(false);
        int partial = integer(f, "partial_images", 0, MAX_PARTIAL_IMAGES).orElse(0);
        Optional<Long> seed = longValue(f, "seed");
        Optional<String> negative = string(f, "negative_prompt", limits.maxNegativePromptChars());
        Optional<Integer> steps = integer(f, "steps", 1, limits.maxSteps())
                .or(() -> integer(f, "num_inference_steps", 1, limits.maxSteps()));
        Optional<Float> guidance = number(f, "guidance_scale", 0, 50).or(() -> number(f, "cfg_scale", 0, 50));
        Optional<String> sampler = string(f, "sampler", 64).or(() -> string(f, "scheduler", 64)).map(String::trim);
        Optional<Float> strength = number(f, "strength", 0, 1);
        if (strength.isPresent() && !edit) {
            throw ApiException.invalidValue("strength", "'strength' applies to /v1/images/edits, where an input image is given.");
        }
        if (strength.isPresent() && strength.get() <= 0f) {
            throw ApiException.invalidValue("strength", "'strength' must be above 0 (0 would return the input unchanged).");
        }
        oneOf(f, "quality", QUALITIES);
        oneOf(f, "style", STYLES);
        oneOf(f, "moderation", MODERATION);
        oneOf(f, "input_fidelity", FIDELITY);
        oneOf(f, "background", Set.of("auto", "opaque", "transparent")).ifPresent(b -> {
            if (b.equals("transparent")) {
                throw ApiException.invalidValue("background", "Transparent backgrounds are not supported by this server's models.");
            }
        });
        return new ImageParams(string(f, "model", 256).map(String::trim).filter(m -> !m.isEmpty()), prompt, n, size,
                width, height, responseFormat.equals("url"), format, compression, user, stream, partial, seed, negative,
                steps, guidance, sampler, strength);
    }

    static Optional<String> string(RequestFields f, String name, int maxChars) {
        Optional<JsonNode> v = f.get(name);
        if (v.isEmpty()) return Optional.empty();
        if (!v.get().isTextual()) throw ApiException.invalidValue(name, "'" + name + "' must be a string.");
        String s = v.get().asText();
        if (s.length() > maxChars) {
            throw ApiException.badRequest(name, "string_above_max_length",
                    "'" + name + "' is " + s.length() + " characters long; at most " + maxChars + " are allowed.");
        }
        return Optional.of(s);
    }

    static Optional<String> oneOf(RequestFields f, String name, Set<String> allowed) {
        Optional<String> v = string(f, name, 64).map(s -> s.trim().toLowerCase(Locale.ROOT));
        if (v.isPresent() && !allowed.contains(v.get())) {
            throw ApiException.invalidValue(name, "Invalid value '" + v.get() + "' for '" + name + "': use one of "
                    + String.join(", ", allowed.stream().sorted().toList()) + ".");
        }
        return v;
    }

    static Optional<Integer> integer(RequestFields f, String name, int min, int max) {
        Optional<BigDecimal> v = decimal(f, name);
        if (v.isEmpty()) return Optional.empty();
        BigDecimal d = v.get();
        if (d.stripTrailingZeros().scale() > 0) throw ApiException.invalidValue(name, "'" + name + "' must be an integer.");
        if (d.compareTo(BigDecimal.valueOf(min)) < 0) {
            throw ApiException.badRequest(name, "integer_below_min_value",
                    "Invalid '" + name + "': " + d.toPlainString() + " is below the minimum of " + min + ".");
        }
        if (d.compareTo(BigDecimal.valueOf(max)) > 0) {
            throw ApiException.badRequest(name, "integer_above_max_value",
                    "Invalid '" + name + "': " + d.toPlainString() + " is above the maximum of " + max + ".");
        }
        return Optional.of(d.intValueExact());
    }

    /** A seed: 0 .. 2^63-1; -1 (as in most diffusion UIs) means "pick one". */
    static Optional<Long> longValue(RequestFields f, String name) {
        Optional<BigDecimal> v = decimal(f, name);
        if (v.isEmpty()) return Optional.empty();
        BigDecimal d = v.get();
        if (d.stripTrailingZeros().scale() > 0) throw ApiException.invalidValue(name, "'" + name + "' must be an integer.");
        if (d.compareTo(BigDecimal.valueOf(-1)) == 0) return Optional.empty();
        if (d.signum() < 0 || d.compareTo(BigDecimal.valueOf(Long.MAX_VALUE)) > 0) {
            throw ApiException.invalidValue(name, "'" + name + "' must be between 0 and " + Long.MAX_VALUE + " (or -1 for random).");
        }
        return Optional.of(d.longValueExact());
    }

    static Optional<Float> number(RequestFields f, String name, double min, double max) {
        Optional<BigDecimal> v = decimal(f, name);
        if (v.isEmpty()) return Optional.empty();
        double d = v.get().doubleValue();
        if (d < min || d > max) {
            throw ApiException.invalidValue(name, "'" + name + "' must be between " + trim(min) + " and " + trim(max) + ".");
        }
        return Optional.of((float) d);
    }

    private static String trim(double d) {
        return d == Math.rint(d) ? String.valueOf((long) d) : String.valueOf(d);
    }

    static Optional<Boolean> bool(RequestFields f, String name) {
        Optional<JsonNode> v = f.get(name);
        if (v.isEmpty()) return Optional.empty();
        if (v.get().isBoolean()) return Optional.of(v.get().asBoolean());
        if (v.get().isTextual()) {
            String s = v.get().asText().trim().toLowerCase(Locale.ROOT);
            if (s.equals("true") || s.equals("1")) return Optional.of(true);
            if (s.equals("false") || s.equals("0") || s.isEmpty()) return Optional.of(false);
        }
        throw ApiException.invalidValue(name, "'" + name + "' must be true or false.");
    }

    private static Optional<BigDecimal> decimal(RequestFields f, String name) {
        Optional<JsonNode> v = f.get(name);
        if (v.isEmpty()) return Optional.empty();
        JsonNode node = v.get();
        if (node.isNumber()) return Optional.of(node.decimalValue());
        if (node.isTextual()) {
            String s = node.asText().trim();
            if (s.isEmpty()) return Optional.empty();
            try {
                if (s.length() > 40) throw new NumberFormatException();
                return Optional.of(new BigDecimal(s));
            } catch (NumberFormatException e) {
                throw ApiException.invalidValue(name, "'" + name + "' must be a number.");
            }
        }
        throw ApiException.invalidValue(name, "'" + name + "' must be a number.");
    }
}
