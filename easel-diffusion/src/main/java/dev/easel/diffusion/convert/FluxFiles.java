package dev.easel.diffusion.convert;

import dev.easel.diffusion.family.ModelFiles;
import dev.easel.engine.runtime.WeightMode;
import dev.easel.engine.weights.SafetensorsFile;
import dev.easel.engine.weights.gguf.GgufFile;
import dev.easel.engine.weights.gguf.GgufTensor;
import dev.easel.engine.weights.ScaledFp8Weights;
import dev.easel.engine.weights.WeightSource;
import dev.easel.engine.weights.WeightsException;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;

/**
 * The four components of a FLUX.1 model in its single-file layouts, each under canonical (diffusers/transformers)
 * names: the transformer of a BFL file ({@code flux1-schnell.safetensors}, or under ComfyUI's
 * {@code model.diffusion_model.} prefix), the autoencoder ({@code ae.safetensors}, LDM names), CLIP-L and T5 (Hugging
 * Face names; T5 also as fp8 with per-layer scales). An all-in-one ComfyUI checkpoint holds all four under its
 * prefixes; otherwise each comes from the file the user named or, failing that, from the one file beside the
 * transformer whose tensors say it is that component.
 */
public final class FluxFiles implements AutoCloseable {
    static final String COMFY_VAE_PREFIX = "vae.";
    static final String COMFY_CLIP_L_PREFIX = "text_encoders.clip_l.transformer.";
    static final String COMFY_T5_PREFIX = "text_encoders.t5xxl.transformer.";

    /** The separate files of a FLUX.1 model, by what their tensors show. */
    public enum Component {
        VAE("autoencoder", "--vae", "ae.safetensors"),
        CLIP_L("CLIP-L text encoder", "--clip-l", "clip_l.safetensors"),
        T5("T5 text encoder", "--t5", "t5xxl_fp16.safetensors");

        private final String description;
        private final String flag;
        private final String usualName;

        Component(String description, String flag, String usualName) {
            this.description = description;
            this.flag = flag;
            this.usualName = usualName;
        }

        /** What a file's tensor names show it to be, if one of these. */
        public static Optional<Component> of(java.util.Set<String> names) {
            if (names.contains("decoder.conv_in.weight") && names.contains("encoder.conv_in.weight")) return Optional.of(VAE);
            if (names.stream().anyMatch(n -> n.startsWith("encoder.block.0.layer.0.SelfAttention.")) || LlamaT5Names.isT5(names)) {
                return Optional.of(T5);
            }
            if (names.stream().anyMatch(n -> n.startsWith("text_model.encoder.layers.") || n.startsWith("encoder.layers.0.self_attn."))) {
                return Optional.of(CLIP_L);
            }
            return Optional.empty();
        }
    }

    private final List<AutoCloseable> opened = new ArrayList<>();
    private final WeightSource transformerFile;
    private final WeightSource transformer;
    private final WeightSource vae;
    private final WeightSource clipL;
    private final WeightSource t5;

    private FluxFiles(ModelFiles files) {
        try {
            WeightSource main = open(files.checkpoint());
            transformerFile = main;
            transformer = BflFluxNames.view(main);
            vae = files.vae().map(p -> vaeView(open(p), ""))
                    .or(() -> under(main, COMFY_VAE_PREFIX).map(prefix -> vaeView(main, prefix)))
                    .orElseGet(() -> vaeView(open(found(files.checkpoint(), Component.VAE)), ""));
            clipL = files.clipL().map(p -> (WeightSource) HfTextEncoderNames.view(open(p), ""))
                    .or(() -> under(main, COMFY_CLIP_L_PREFIX).map(prefix -> HfTextEncoderNames.view(main, prefix)))
                    .orElseGet(() -> HfTextEncoderNames.view(open(found(files.checkpoint(), Component.CLIP_L)), ""));
            t5 = files.t5().map(p -> t5View(open(p), ""))
                    .or(() -> under(main, COMFY_T5_PREFIX).map(prefix -> t5View(main, prefix)))
                    .orElseGet(() -> t5View(open(found(files.checkpoint(), Component.T5)), ""));
        } catch (RuntimeException e) {
            close();
            throw e;
        }
    }

    /** Opens the model's files; closing the result closes them. */
    public static FluxFiles open(ModelFiles files) {
        return new FluxFiles(files);
    }

    /** The transformer under diffusers' {@code FluxTransformer2DModel} names. */
    public WeightSource transformer() {
        return transformer;
    }

    /** The autoencoder under diffusers' {@code AutoencoderKL} names. */
    public WeightSource vae() {
        return vae;
    }

    /** CLIP-L under transformers' {@code CLIPTextModel} names. */
    public WeightSource clipL() {
        return clipL;
    }

    /** The T5 encoder under transformers' {@code T5EncoderModel} names, fp8 scales applied. */
    public WeightSource t5() {
        return t5;
    }

    /** A {@code .gguf} file as GGUF, any other as safetensors; closed with these files. */
    private WeightSource open(Path file) {
        WeightSource f = openFile(file);
        opened.add(f);
        return f;
    }

    static WeightSource openFile(Path file) {
        return isGguf(file) ? GgufFile.open(file) : SafetensorsFile.open(file);
    }

    /** Whether the file is GGUF, by its name (as the tools that write GGUF files name them). */
    public static boolean isGguf(Path file) {
        return file.getFileName().toString().toLowerCase(java.util.Locale.ROOT).endsWith(".gguf");
    }

    /**
     * The bits a GGUF transformer's blocks hold, as a block mode: int4 where most of its matrices are 4-bit blocks (Q4_0,
     * Q4_1, Q4_K), int8 where they are wider blocks; empty for a float file. The mode it runs in without one named is
     * {@link dev.easel.diffusion.family.Flux#quantizedDefault} of this.
     */
    public Optional<WeightMode> storedMode() {
        return transformerFile instanceof GgufFile gguf ? storedMode(gguf) : Optional.empty();
    }

    /**
     * As {@link #storedMode()} for a transformer file alone, read from its header (what a model list shows before
     * loading): empty for a file that is not GGUF.
     *
     * @throws WeightsException when the GGUF cannot be read
     */
    public static Optional<WeightMode> storedMode(Path transformer) {
        if (!isGguf(transformer)) return Optional.empty();
        try (GgufFile gguf = GgufFile.open(transformer)) {
            return storedMode(gguf);
        }
    }

    private static Optional<WeightMode> storedMode(GgufFile gguf) {
        long fourBit = 0;
        long wider = 0;
        for (GgufTensor t : gguf.tensors()) {
            if (!t.type().isBlockQuantized()) continue;
            boolean four = switch (t.type()) {
                case Q4_0, Q4_1, Q4_K -> true;
                default -> false;
            };
            if (four) fourBit += t.elementCount();
            else wider += t.elementCount();
        }
        if (fourBit == 0 && wider == 0) return Optional.empty();
        return Optional.of(fourBit > wider ? WeightMode.INT4 : WeightMode.INT8);
    }

    private static Optional<String> under(WeightSource file, String prefix) {
        return PrefixedKeys.anyUnder(file.names(), prefix) ? Optional.of(prefix) : Optional.empty();
    }

    /** An LDM autoencoder ({@code ae.safetensors}), or one already under diffusers' names. */
    private static WeightSource vaeView(WeightSource file, String prefix) {
        return PrefixedKeys.anyUnder(file.names(), prefix + "encoder.down_blocks.")
                ? PrefixedKeys.strip(file, prefix, "autoencoder, diffusers names") : LdmVaeNames.view(file, prefix);
    }

    /** A T5 encoder, seen through its fp8 scales when it is a scaled-fp8 file, or under transformers names when llama.cpp's GGUF. */
    private WeightSource t5View(WeightSource file, String prefix) {
        if (file instanceof GgufFile && prefix.isEmpty() && LlamaT5Names.isT5(file.names())) return LlamaT5Names.view(file);
        WeightSource weights = file instanceof SafetensorsFile st && ScaledFp8Weights.isScaledFp8(st) ? new ScaledFp8Weights(st) : file;
        // Always a view: the component's user closes it, the file stays open until these files are closed.
        return PrefixedKeys.strip(weights, prefix, "T5 encoder, transformers names");
    }

    /**
     * The one {@code .safetensors} file beside {@code checkpoint} that holds {@code component}, told by its tensor
     * names (headers only); an error names the component, the folder, and how to give it, when there is none or more
     * than one.
     */
    static Path found(Path checkpoint, Component component) {
        Path folder = checkpoint.toAbsolutePath().getParent();
        List<Path> candidates = new ArrayList<>();
        try (Stream<Path> files = Files.list(folder)) {
            for (Path p : files.sorted().toList()) {
                if (!(p.getFileName().toString().endsWith(".safetensors") || isGguf(p)) || p.equals(checkpoint.toAbsolutePath())
                        || !Files.isRegularFile(p)) {
                    continue;
                }
                try (WeightSource f = openFile(p)) {
                    if (Component.of(f.names()).orElse(null) == component) candidates.add(p);
                } catch (RuntimeException unreadable) {
                    // not a component: other checkpoints and broken files beside the model are not ours to judge
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        if (candidates.size() == 1) return candidates.getFirst();
        String how = "give it with " + component.flag + " (e.g. " + component.usualName + ")";
        if (candidates.isEmpty()) {
            throw new WeightsException(checkpoint + ": FLUX.1 needs its " + component.description + ", which is neither in the "
                    + "checkpoint nor in a file beside it; " + how);
        }
        throw new WeightsException(checkpoint + ": FLUX.1 needs one " + component.description + ", but several files beside it "
                + "hold one (" + String.join(", ", candidates.stream().map(p -> p.getFileName().toString()).toList()) + "); " + how);
    }

    @Override
    public void close() {
        for (AutoCloseable c : opened.reversed()) {
            try {
                c.close();
            } catch (Exception ignored) {
                // closing a read-only mapping does not fail in a way the caller could act on
            }
        }
        opened.clear();
    }
}
