package dev.easel.server.support;

import dev.easel.engine.weights.SafetensorsFile;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The four files a FLUX.1 reference case ran on, as its manifest names them ({@code weights.single_file}:
 * transformer, ae, clip_l, t5), and the names people download them under.
 */
public record FluxParts(Path transformer, Path ae, Path clipL, Path t5) {
    /** The manifest's component keys, in the order of the record. */
    private static final List<String> KEYS = List.of("transformer", "ae", "clip_l", "t5");
    /** BFL's and ComfyUI's file names of the separate parts, by the manifest's component key. */
    private static final Map<String, String> DOWNLOAD_NAMES = Map.of(
            "ae", "ae.safetensors", "clip_l", "clip_l.safetensors", "t5", "t5xxl_fp16.safetensors");

    /** The case's files; the calling test is skipped (with the reason) when the fixture directory lacks one. */
    public static FluxParts of(ReferenceCase c) {
        List<Path> paths = new ArrayList<>();
        for (String key : KEYS) {
            Path p = c.singleFile(key).orElse(null);
            assumeTrue(p != null, c + ": the manifest names no single-file " + key);
            assumeTrue(Files.isRegularFile(p), c + ": " + p + " is not in the fixture directory");
            paths.add(p);
        }
        return new FluxParts(paths.get(0), paths.get(1), paths.get(2), paths.get(3));
    }

    /** Whether the case's files are all there. */
    public static boolean present(ReferenceCase c) {
        return KEYS.stream().allMatch(k -> c.singleFile(k).filter(Files::isRegularFile).isPresent());
    }

    /** FLUX.1-dev style: the transformer embeds the guidance scale ({@code guidance_in}). */
    public boolean guidanceDistilled() {
        try (SafetensorsFile f = SafetensorsFile.open(transformer)) {
            return f.names().stream().anyMatch(n -> n.startsWith("guidance_in."));
        }
    }

    /** {@code flux1-dev.safetensors} or {@code flux1-schnell.safetensors}, as BFL names the variant. */
    public String transformerDownloadName() {
        return guidanceDistilled() ? "flux1-dev.safetensors" : "flux1-schnell.safetensors";
    }

    /** The autoencoder and text encoders by the name each is downloaded under. */
    public Map<String, Path> componentsByDownloadName() {
        Map<String, Path> m = new LinkedHashMap<>();
        m.put(DOWNLOAD_NAMES.get("ae"), ae);
        m.put(DOWNLOAD_NAMES.get("clip_l"), clipL);
        m.put(DOWNLOAD_NAMES.get("t5"), t5);
        return m;
    }

    /** {@code --vae ae --clip-l clip_l --t5 t5}. */
    public List<String> componentFlags() {
        return List.of("--vae", ae.toString(), "--clip-l", clipL.toString(), "--t5", t5.toString());
    }
}
