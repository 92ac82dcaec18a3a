package dev.easel.server.config;

import dev.easel.engine.runtime.WeightMode;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.exc.UnrecognizedPropertyException;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.NullNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.databind.node.TextNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import dev.easel.server.auth.Tier;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
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
 * Builds the {@link ServerConfig}: embedded {@code defaults.yaml}, then the operator's YAML file, then
 * {@code EASEL_*} environment variables, then {@code key.path=value} overrides from flags. Unknown keys
 * are errors (a typo in a limit must not silently fall back to the default).
 */
public final class ConfigLoader {

    public static final String ENV_PREFIX = "EASEL_";
    private static final Pattern SIZE = Pattern.compile("(\\d{1,5})x(\\d{1,5})");

    private final ObjectMapper yaml;

    public ConfigLoader() {
        this.yaml = new ObjectMapper(new YAMLFactory())
                .setPropertyNamingStrategy(PropertyNamingStrategies.KEBAB_CASE)
                .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
                .enable(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES);
    }

    /** Defaults only. */
    public ServerConfig defaults() {
        return load(Optional.empty(), Map.of(), Map.of());
    }

    /**
     * @param file      the operator's YAML file, if any
     * @param env       the environment (only {@code EASEL_*} names that match a key are read)
     * @param overrides {@code key.path -> value}, value in YAML syntax ("30", "true", "64x64", "null")
     */
    public ServerConfig load(Optional<Path> file, Map<String, String> env, Map<String, String> overrides) {
        ObjectNode tree = readDefaults();
        if (file.isPresent()) {
            merge(tree, readFile(file.get()));
        }
        applyEnvironment(tree, env);
        overrides.forEach((path, value) -> set(tree, path, parseScalar(value)));
        readCacheDirOff(tree);
        ServerConfig config = bind(tree);
        validate(config);
        return config;
    }

    /** Every settable scalar key path outside the catalog, with its environment variable name. */
    public static String envName(String keyPath) {
        return ENV_PREFIX + keyPath.toUpperCase(Locale.ROOT).replace('.', '_').replace('-', '_');
    }

    private ObjectNode readDefaults() {
        try (InputStream in = ConfigLoader.class.getResourceAsStream("defaults.yaml")) {
            if (in == null) throw new IllegalStateException("defaults.yaml is missing from the jar");
            return (ObjectNode) yaml.readTree(in);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private ObjectNode readFile(Path file) {
        if (!Files.isRegularFile(file)) throw new ConfigException("config file " + file + " does not exist");
        try {
            JsonNode node = yaml.readTree(file.toFile());
            if (node == null || node.isMissingNode() || node.isNull()) return JsonNodeFactory.instance.objectNode();
            if (!node.isObject()) throw new ConfigException("config file " + file + " must hold a YAML mapping");
            return (ObjectNode) node;
        } catch (JsonProcessingException e) {
            throw new ConfigException("config file " + file + " is not valid YAML: " + e.getOriginalMessage(), e);
        } catch (IOException e) {
            throw new ConfigException("cannot read config file " + file + ": " + e.getMessage(), e);
        }
    }

    /** Deep merge: mappings merge key by key, anything else replaces; an explicit null removes the key. */
    static void merge(ObjectNode into, ObjectNode from) {
        for (Iterator<Map.Entry<String, JsonNode>> it = from.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            JsonNode existing = into.get(e.getKey());
            if (e.getValue().isNull()) {
                into.remove(e.getKey());
            } else if (existing instanceof ObjectNode target && e.getValue() instanceof ObjectNode source) {
                merge(target, source);
            } else {
                into.set(e.getKey(), e.getValue().deepCopy());
            }
        }
    }

    private static void applyEnvironment(ObjectNode tree, Map<String, String> env) {
        for (String path : scalarPaths(tree, "")) {
            String value = env.get(envName(path));
            if (value != null) set(tree, path, parseScalar(value));
        }
    }

    private static List<String> scalarPaths(ObjectNode node, String prefix) {
        List<String> paths = new ArrayList<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = node.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            String path = prefix.isEmpty() ? e.getKey() : prefix + "." + e.getKey();
            if (path.equals("catalog")) continue; // model ids contain '.' and '-': not expressible as env names
            if (e.getValue() instanceof ObjectNode child) {
                paths.addAll(scalarPaths(child, path));
            } else {
                paths.add(path);
            }
        }
        return paths;
    }

    /**
     * Sets {@code path} (dot separated) in the tree, creating mappings on the way. A catalog id may contain
     * dots ("stable-diffusion-1.5"): under {@code catalog.} the longest existing id that prefixes the rest
     * is taken first.
     */
    static void set(ObjectNode tree, String path, JsonNode value) {
        List<String> parts = splitPath(tree, path);
        ObjectNode node = tree;
        for (int i = 0; i < parts.size() - 1; i++) {
            JsonNode child = node.get(parts.get(i));
            node = child instanceof ObjectNode object ? object : node.putObject(parts.get(i));
        }
        String last = parts.getLast();
        if (value.isNull()) {
            node.remove(last);
        } else {
            node.set(last, value);
        }
    }

    private static List<String> splitPath(ObjectNode tree, String path) {
        if (path.isBlank()) throw new ConfigException("empty key in a --set override");
        List<String> parts = new ArrayList<>();
        String rest = path;
        if (path.startsWith("catalog.")) {
            parts.add("catalog");
            rest = path.substring("catalog.".length());
            JsonNode catalog = tree.get("catalog");
            String id = null;
            if (catalog != null) {
                for (Iterator<String> it = catalog.fieldNames(); it.hasNext(); ) {
                    String candidate = it.next();
                    if ((rest.startsWith(candidate + ".") || rest.equals(candidate))
                            && (id == null || candidate.length() > id.length())) {
                        id = candidate;
                    }
                }
            }
            if (id == null) {
                // A new entry: its id is everything up to the last dot (the field name).
                int dot = rest.lastIndexOf('.');
                id = dot < 0 ? rest : rest.substring(0, dot);
            }
            parts.add(id);
            rest = rest.length() > id.length() ? rest.substring(id.length() + 1) : "";
            if (rest.isEmpty()) return parts;
        }
        for (String p : rest.split("\\.")) {
            if (p.isEmpty()) throw new ConfigException("bad key path '" + path + "'");
            parts.add(p);
        }
        return parts;
    }

    /** A flag or environment value, read as a YAML scalar: numbers and booleans keep their type. */
    private static JsonNode parseScalar(String value) {
        if (value.isEmpty()) return TextNode.valueOf("");
        if (value.equals("null") || value.equals("~")) return NullNode.getInstance();
        try {
            JsonNode node = new ObjectMapper(new YAMLFactory()).readTree(value);
            if (node != null && node.isValueNode()) return node;
        } catch (IOException ignored) {
            // fall through: a plain string
        }
        return TextNode.valueOf(value);
    }

    /**
     * {@code cache-dir: off} unquoted is a YAML boolean (false), as is {@code --set cache-dir=off}: it means "off",
     * not a folder named "false". A true is refused: it names no folder.
     */
    private static void readCacheDirOff(ObjectNode tree) {
        JsonNode dir = tree.get("cache-dir");
        if (dir == null || !dir.isBoolean()) return;
        if (dir.booleanValue()) throw new ConfigException("cache-dir must be a folder, \"\" (<data-dir>/cache) or off, got true");
        tree.put("cache-dir", "off");
    }

    private ServerConfig bind(ObjectNode tree) {
        try {
            return yaml.treeToValue(tree, ServerConfig.class);
        } catch (UnrecognizedPropertyException e) {
            throw new ConfigException("unknown configuration key '" + pathOf(e) + "'", e);
        } catch (JsonProcessingException e) {
            throw new ConfigException("bad configuration value at '" + pathOf(e) + "': " + e.getOriginalMessage(), e);
        }
    }

    private static String pathOf(JsonProcessingException e) {
        if (e instanceof com.fasterxml.jackson.databind.JsonMappingException m) {
            StringBuilder sb = new StringBuilder();
            for (var ref : m.getPath()) {
                if (!sb.isEmpty()) sb.append('.');
                sb.append(ref.getFieldName() != null ? ref.getFieldName() : String.valueOf(ref.getIndex()));
            }
            return sb.toString();
        }
        return "?";
    }

    /** A model's download sources: complete, inside the models dir, and one of them where the catalog looks. */
    private static void validateFiles(String key, String id, ServerConfig.ModelConfig m) {
        List<ServerConfig.FileSource> files = m.filesOrEmpty();
        for (int i = 0; i < files.size(); i++) {
            ServerConfig.FileSource f = files.get(i);
            String at = key + ".files[" + i + "]";
            if (f == null || f.repo() == null || !f.repo().matches("[\\w.-]+/[\\w.-]+")) {
                throw new ConfigException(at + ".repo must be a hub repository 'owner/name'");
            }
            if (f.path() == null || f.path().isBlank()) throw new ConfigException(at + ".path must be set");
            Path target = Path.of(f.target()).normalize();
            if (target.isAbsolute() || target.startsWith("..") || target.toString().isEmpty()) {
                throw new ConfigException(at + ".as must be a path inside the models dir, got '" + f.target() + "'");
            }
        }
        if (files.isEmpty()) return;
        boolean found = files.stream().map(f -> Path.of(f.target()).normalize()).anyMatch(t ->
                (m.path() != null && t.equals(Path.of(m.path()).normalize()))
                        || t.equals(Path.of(id)) || t.equals(Path.of(id + ".safetensors")) || t.startsWith(Path.of(id)));
        if (!found) {
            throw new ConfigException(key + ".files: none of them is where the catalog finds the model ("
                    + (m.path() != null ? "'" + m.path() + "', " : "") + "'" + id + "' or '" + id + ".safetensors')");
        }
    }

    private static void validate(ServerConfig c) {
        if (c.port() < 0 || c.port() > 65535) throw new ConfigException("port must be 0..65535, got " + c.port());
        if (c.dataDir() == null) throw new ConfigException("data-dir must be set");
        if (c.modelsDir() == null) throw new ConfigException("models-dir must be set");
        for (Tier tier : Tier.values()) {
            ServerConfig.TierLimits limits = c.tiers().get(tier.id());
            if (limits == null) throw new ConfigException("tiers." + tier.id() + " is missing");
            if (limits.requestsPerMinute() < 1 || limits.concurrentJobs() < 1 || limits.imagesPerDay() < 1
                    || limits.maxN() < 1 || limits.maxN() > 10) {
                throw new ConfigException("tiers." + tier.id() + ": limits must be positive and max-n at most 10");
            }
        }
        for (String name : c.tiers().keySet()) {
            if (Tier.parse(name).isEmpty()) throw new ConfigException("tiers." + name + ": unknown tier (free, pro, premium)");
        }
        if (Tier.parse(c.detectedModelTier()).isEmpty()) {
            throw new ConfigException("detected-model-tier must be free, pro or premium, got '" + c.detectedModelTier() + "'");
        }
        if (c.queue().capacity() < 1) throw new ConfigException("queue.capacity must be at least 1");
        if (c.queue().requestTimeoutSeconds() < 1) throw new ConfigException("queue.request-timeout-seconds must be at least 1");
        if (c.queue().maxBatchImages() < 1) throw new ConfigException("queue.max-batch-images must be at least 1 (1 = no merging)");
        if (c.limits().maxBodyMb() < 1) throw new ConfigException("limits.max-body-mb must be at least 1");
        if (c.images().urlTtlSeconds() < 1) throw new ConfigException("images.url-ttl-seconds must be at least 1");
        String dbUrl = c.database().url() == null ? "" : c.database().url();
        if (!dbUrl.isBlank() && !c.database().shared()) {
            throw new ConfigException("database.url must be empty (SQLite in data-dir) or a jdbc:postgresql: URL, got '"
                    + dbUrl.replaceAll("password=[^&]*", "password=...") + "'");
        }
        if (c.database().poolSize() < 2) throw new ConfigException("database.pool-size must be at least 2");
        if (c.webhooks().maxAttempts() < 1) throw new ConfigException("webhooks.max-attempts must be at least 1");
        if (c.jobs().leaseSeconds() < 2) throw new ConfigException("jobs.lease-seconds must be at least 2");
        if (c.hub() == null) throw new ConfigException("hub must be set");
        if (c.hub().parallelFiles() < 1) throw new ConfigException("hub.parallel-files must be at least 1");
        if (c.hub().retries() < 0) throw new ConfigException("hub.retries must be 0 or more");
        Map<String, ServerConfig.ModelConfig> catalog = new LinkedHashMap<>(c.catalog());
        catalog.forEach((id, m) -> {
            String key = "catalog." + id;
            if (m.family() == null || m.family().isBlank()) throw new ConfigException(key + ".family must be set");
            if (m.tier() != null && Tier.parse(m.tier()).isEmpty()) {
                throw new ConfigException(key + ".tier must be free, pro or premium, got '" + m.tier() + "'");
            }
            if (m.size() != null && !SIZE.matcher(m.size()).matches()) {
                throw new ConfigException(key + ".size must look like 512x512, got '" + m.size() + "'");
            }
            if (m.steps() != null && (m.steps() < 1 || m.steps() > c.limits().maxSteps())) {
                throw new ConfigException(key + ".steps must be 1.." + c.limits().maxSteps());
            }
            if (m.weights() != null) {
                try {
                    WeightMode.parse(m.weights());
                } catch (IllegalArgumentException e) {
                    throw new ConfigException(key + "." + e.getMessage());
                }
            }
            if (m.minSize() != null && m.maxSize() != null && m.minSize() > m.maxSize()) {
                throw new ConfigException(key + ": min-size is above max-size");
            }
            validateFiles(key, id, m);
        });
    }
}
