package dev.easel.diffusion.bench;

import dev.easel.diffusion.convert.BflFluxNames;
import dev.easel.diffusion.convert.LdmVaeNames;
import dev.easel.diffusion.family.Flux;
import dev.easel.diffusion.model.clip.ClipTextConfig;
import dev.easel.diffusion.model.clip.ClipTextModel;
import dev.easel.diffusion.model.flux.FluxConfig;
import dev.easel.diffusion.model.t5.T5Config;
import dev.easel.diffusion.model.t5.T5Encoder;
import dev.easel.diffusion.model.vae.AutoencoderKL;
import dev.easel.diffusion.model.vae.VaeConfig;
import dev.easel.engine.weights.DType;
import dev.easel.engine.weights.SafetensorsWriter;
import dev.easel.engine.weights.TensorData;
import dev.easel.engine.weights.gguf.GgufType;
import dev.easel.engine.weights.gguf.GgufWriter;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A random-weight FLUX.1 written as its files are distributed, for benchmarks: the transformer in bf16 under Black
 * Forest Labs' names ({@value #TRANSFORMER}), T5 in fp16 under Hugging Face names ({@value #T5}), CLIP-L
 * ({@value #CLIP_L}) and the autoencoder under LDM names ({@value #AE}), all four in one folder so that the
 * components are found beside the transformer. Each tensor's values depend on its name only, so the GGUF version of
 * the transformer ({@link #transformerGguf}) holds the same model.
 */
public final class RandomFlux {
    public static final String TRANSFORMER = "flux1-schnell.safetensors";
    public static final String T5 = "t5xxl_fp16.safetensors";
    public static final String CLIP_L = "clip_l.safetensors";
    public static final String AE = "ae.safetensors";
    /** Room kept free on the disk beyond the files themselves. */
    private static final long DISK_MARGIN = 2L << 30;

    private RandomFlux() {
    }

    /** The shapes of the four components. */
    public record Shapes(FluxConfig transformer, T5Config t5, ClipTextConfig clipL, VaeConfig vae) {
        /**
         * FLUX.1-schnell as released: the 11.9 B transformer, T5-XXL (4.8 B), CLIP-L and the 16-channel autoencoder
         * (LDM layout, no quant convs).
         */
        public static Shapes schnell() {
            return new Shapes(FluxConfig.schnell(), T5Config.xxl(), new ClipTextConfig(49408, 768, 12, 12, 3072, 77, true, 0),
                    new VaeConfig(new long[]{128, 256, 512, 512}, 2, 16, false, Flux.VAE_SCALING, Flux.VAE_SHIFT));
        }

        public Map<String, long[]> transformerParameters() {
            return BflFluxNames.parameters(transformer);
        }

        Map<String, long[]> t5Parameters() {
            return T5Encoder.parameters(t5);
        }

        Map<String, long[]> clipParameters() {
            return ClipTextModel.graph(clipL).weights();
        }

        Map<String, long[]> aeParameters() {
            Map<String, long[]> canonical = new LinkedHashMap<>(AutoencoderKL.encoder(vae).weights());
            canonical.putAll(AutoencoderKL.decoder(vae).weights());
            return LdmVaeNames.originalParameters(canonical);
        }

        /** Bytes of the four files: two per value. */
        public long bytes() {
            long values = 0;
            for (Map<String, long[]> p : List.of(transformerParameters(), t5Parameters(), clipParameters(), aeParameters())) {
                for (long[] shape : p.values()) values += RandomCheckpoint.count(shape);
            }
            return 2 * values;
        }
    }

    /** The real-size FLUX.1-schnell's transformer file under {@code cache}, writing the model first if absent. */
    public static Path schnell(Path cache) {
        return write(cache, "flux-schnell-random", Shapes.schnell());
    }

    /**
     * The transformer file of the model {@code <cache>/<name>}, writing its four files first if absent (into
     * {@code <name>.partial}, renamed when complete, so that an interrupted run is never taken for a model). Refused,
     * saying what it needs, when the disk lacks the room.
     */
    public static Path write(Path cache, String name, Shapes shapes) {
        Path folder = cache.resolve(name);
        if (Files.isRegularFile(folder.resolve(TRANSFORMER))) return folder.resolve(TRANSFORMER);
        try {
            Path partial = Files.createDirectories(cache).resolve(name + ".partial");
            RandomCheckpoint.deleteRecursively(partial);
            requireSpace(cache, shapes.bytes(), "the random-weight FLUX.1 " + name);
            Files.createDirectories(partial);
            write(partial.resolve(AE), DType.F16, shapes.aeParameters(), "ae.");
            write(partial.resolve(CLIP_L), DType.F16, shapes.clipParameters(), "clip_l.");
            write(partial.resolve(T5), DType.F16, shapes.t5Parameters(), "t5.");
            write(partial.resolve(TRANSFORMER), DType.BF16, shapes.transformerParameters(), "");
            Files.move(partial, folder);
            return folder.resolve(TRANSFORMER);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write the random FLUX.1 under " + cache, e);
        }
    }

    /**
     * The transformer of the model whose BFL file is {@code transformer}, as a GGUF file of {@code type} beside it
     * ({@code flux1-schnell-Q8_0.gguf}; city96's layout: BFL names, {@code general.architecture = flux}), written
     * first if absent. The values are the bf16 file's (drawn again from the same seeds and rounded to bf16), the
     * blocks' matrices quantized to {@code type}, the vectors kept in F32 as city96's files keep them, and the layers
     * outside the blocks (the embedders, the final layer: full precision in every weight mode) in BF16.
     */
    public static Path transformerGguf(Path transformer, Shapes shapes, GgufType type) {
        Path file = transformer.resolveSibling(TRANSFORMER.replace(".safetensors", "-" + type + ".gguf"));
        if (Files.isRegularFile(file)) return file;
        List<GgufWriter.Entry> entries = new ArrayList<>();
        long bytes = 0;
        for (Map.Entry<String, long[]> p : shapes.transformerParameters().entrySet()) {
            long[] shape = p.getValue();
            boolean block = p.getKey().startsWith("double_blocks.") || p.getKey().startsWith("single_blocks.");
            GgufType stored = shape.length < 2 ? GgufType.F32
                    : block && shape[shape.length - 1] % type.blockSize() == 0 ? type : GgufType.BF16;
            TensorData.FloatChunks values = RandomCheckpoint.chunks(p.getKey(), shape, seed("", p.getKey()));
            entries.add(new GgufWriter.Entry(p.getKey(), stored, shape, asBf16(values)));
            bytes += stored.byteLength(RandomCheckpoint.count(shape));
        }
        try {
            requireSpace(file.getParent(), bytes, file.getFileName().toString());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        Map<String, Object> metadata = new LinkedHashMap<>();
        metadata.put("general.architecture", "flux");
        metadata.put("general.name", "random FLUX.1-schnell (Easel bench)");
        GgufWriter.write(file, metadata, entries);
        return file;
    }

    private static void write(Path file, DType dtype, Map<String, long[]> parameters, String salt) {
        List<SafetensorsWriter.Entry> entries = new ArrayList<>();
        for (Map.Entry<String, long[]> p : parameters.entrySet()) {
            long[] shape = p.getValue();
            entries.add(new SafetensorsWriter.Entry(p.getKey(), dtype, shape, TensorData.generated(dtype, RandomCheckpoint.count(shape),
                    RandomCheckpoint.chunks(p.getKey(), shape, seed(salt, p.getKey())))));
        }
        SafetensorsWriter.write(file, entries);
    }

    /** A tensor's seed from its component and name alone, so that every writer of the model draws the same values. */
    private static long seed(String salt, String name) {
        return (salt + name).hashCode() * 0x9E3779B97F4A7C15L;
    }

    private static TensorData.FloatChunks asBf16(TensorData.FloatChunks values) {
        return (chunk, length) -> {
            values.next(chunk, length);
            for (int i = 0; i < length; i++) chunk[i] = roundToBf16(chunk[i]);
        };
    }

    /** To the nearest bf16, ties to even, as the safetensors writer rounds (the values are finite). */
    static float roundToBf16(float value) {
        int bits = Float.floatToRawIntBits(value);
        return Float.intBitsToFloat((bits + 0x7FFF + ((bits >>> 16) & 1)) & 0xFFFF0000);
    }

    private static void requireSpace(Path where, long bytes, String what) throws IOException {
        Files.createDirectories(where);
        long usable = Files.getFileStore(where).getUsableSpace();
        if (usable < bytes + DISK_MARGIN) {
            throw new IOException(what + " needs " + gib(bytes) + " GiB on disk (plus " + gib(DISK_MARGIN) + " GiB spare), but "
                    + where + " has " + gib(usable) + " GiB free");
        }
    }

    private static String gib(long bytes) {
        return String.format("%.1f", bytes / (double) (1L << 30));
    }
}
