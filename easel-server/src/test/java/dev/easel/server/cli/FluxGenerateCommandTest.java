package dev.easel.server.cli;

import dev.easel.engine.weights.DType;
import dev.easel.engine.weights.SafetensorsFile;
import dev.easel.engine.weights.SafetensorsWriter;
import dev.easel.engine.weights.TensorData;
import dev.easel.engine.weights.TensorInfo;
import dev.easel.server.support.Fixtures;
import dev.easel.server.support.FluxParts;
import dev.easel.server.support.ReferenceCase;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.function.Function;
import java.util.stream.IntStream;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeFalse;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * {@code easel generate} on FLUX.1 as users run it: the BFL transformer with its autoencoder and text encoders
 * named by flag, or found beside it by content under the names they are downloaded as, reproducing every flux
 * reference case with its seed; and the ways a FLUX.1 run goes wrong refused with one {@code error:} line and the
 * usage exit code.
 */
class FluxGenerateCommandTest {
    private static final String FAMILY = "flux";
    private static final int USAGE_EXIT_CODE = 2;

    @TempDir
    Path tmp;

    static List<ReferenceCase> cases() {
        List<ReferenceCase> cases = ReferenceCase.of(FAMILY);
        assumeFalse(cases.isEmpty(), "no " + FAMILY + " cases under " + Fixtures.root());
        return cases;
    }

    /** The files of the first case that has them all (for the bad-input tests). */
    static FluxParts anyFiles() {
        ReferenceCase c = cases().stream().filter(FluxParts::present).findFirst().orElse(null);
        assumeTrue(c != null, "no " + FAMILY + " case has all four files under " + Fixtures.root());
        return FluxParts.of(c);
    }

    // ---------------------------------------------------------------- the reference cases

    @TestFactory
    Stream<DynamicTest> everyCaseWithItsComponentsNamedByFlag() {
        return cases().stream().map(c -> DynamicTest.dynamicTest(c.name(), () -> {
            FluxParts f = FluxParts.of(c);
            reproduce(c, f.transformer(), f.componentFlags());
        }));
    }

    /** The files under the names people download them as, in one folder: the parts are found by their tensors. */
    @TestFactory
    Stream<DynamicTest> everyCaseWithItsComponentsFoundBesideTheTransformer() {
        return cases().stream().map(c -> DynamicTest.dynamicTest(c.name(), () -> {
            FluxParts f = FluxParts.of(c);
            Path folder = Files.createDirectories(tmp.resolve("downloads-" + c.dir().getFileName()));
            Path transformer = Files.createSymbolicLink(folder.resolve(f.transformerDownloadName()), f.transformer());
            for (var e : f.componentsByDownloadName().entrySet()) Files.createSymbolicLink(folder.resolve(e.getKey()), e.getValue());
            reproduce(c, transformer, List.of());
        }));
    }

    private void reproduce(ReferenceCase c, Path transformer, List<String> componentFlags) {
        Path out = tmp.resolve(c.dir().getFileName() + "-" + (componentFlags.isEmpty() ? "found" : "flags") + ".png");
        List<String> args = new ArrayList<>(List.of("generate", "--model", transformer.toString()));
        args.addAll(componentFlags);
        args.addAll(List.of("--prompt", c.prompt(), "--size", c.size(), "--steps", Integer.toString(c.steps()),
                "--guidance", Double.toString(c.guidance()), "--seed", Long.toString(c.seed()), "-o", out.toString()));
        c.source().ifPresent(s -> args.addAll(List.of("--image", s.toString(), "--strength", Double.toString(c.strength()))));
        CliRun run = CliRun.of(args.toArray(String[]::new));
        assertThat(run.exitCode()).as(run.toString()).isZero();
        assertThat(run.out().strip()).isEqualTo(out.toString());
        c.assertReproducedBy(ReferenceCase.read(out), componentFlags.isEmpty() ? "found by content" : "named by flag");
    }

    // ---------------------------------------------------------------- bad inputs

    @Test
    void sizeThatIsNotAMultipleOfSixteen() {
        FluxParts f = anyFiles();
        CliRun run = generate(f.transformer(), f.componentFlags(), "--size", "72x64");
        assertCleanFailure(run, "--size", "multiples of 16", "72x64", "FLUX.1");
    }

    @Test
    void transformerAloneInAFolderNamesTheMissingAutoencoderAndItsFlag() throws IOException {
        FluxParts f = anyFiles();
        Path alone = Files.createDirectories(tmp.resolve("alone"));
        Path transformer = Files.createSymbolicLink(alone.resolve(f.transformerDownloadName()), f.transformer());
        CliRun run = generate(transformer, List.of());
        assertCleanFailure(run, "autoencoder", "--vae");
    }

    /** Every part but one beside the transformer: the error names the one missing and the flag that gives it. */
    @ParameterizedTest
    @CsvSource({"ae.safetensors, autoencoder, --vae", "clip_l.safetensors, CLIP-L, --clip-l", "t5xxl_fp16.safetensors, T5, --t5"})
    void oneComponentMissingFromTheFolder(String missing, String description, String flag) throws IOException {
        FluxParts f = anyFiles();
        Path folder = Files.createDirectories(tmp.resolve("without-" + missing));
        Path transformer = Files.createSymbolicLink(folder.resolve(f.transformerDownloadName()), f.transformer());
        assertThat(f.componentsByDownloadName()).containsKey(missing);
        for (var e : f.componentsByDownloadName().entrySet()) {
            if (!e.getKey().equals(missing)) Files.createSymbolicLink(folder.resolve(e.getKey()), e.getValue());
        }
        CliRun run = generate(transformer, List.of());
        assertCleanFailure(run, description, flag);
    }

    /** A T5 encoder whose width is not the transformer's context width (a T5 of another model). */
    @Test
    void t5OfAnotherWidth() {
        FluxParts f = anyFiles();
        long width;
        try (SafetensorsFile t5 = SafetensorsFile.open(f.t5())) {
            width = t5.info("shared.weight").shape()[1];
        }
        long other = width + 16;
        Path wrong = tmp.resolve("t5xxl_other_width.safetensors");
        writeT5OfWidth(f.t5(), wrong, other);
        CliRun run = generate(f.transformer(), List.of("--vae", f.ae().toString(), "--clip-l", f.clipL().toString(),
                "--t5", wrong.toString()));
        assertCleanFailure(run, wrong.getFileName().toString(), "T5", Long.toString(other), Long.toString(width));
    }

    /** A CLIP-L whose hidden size is not the transformer's pooled width (the CLIP of another model). */
    @Test
    void clipLOfAnotherWidth() {
        FluxParts f = anyFiles();
        long hidden;
        try (SafetensorsFile clip = SafetensorsFile.open(f.clipL())) {
            String finalNorm = clip.names().stream().filter(n -> n.endsWith("final_layer_norm.weight")).findFirst().orElseThrow();
            hidden = clip.info(finalNorm).shape()[0];
        }
        long other = hidden * 2;
        Path wrong = tmp.resolve("clip_other_width.safetensors");
        writeClipOfWidth(f.clipL(), wrong, hidden, other);
        CliRun run = generate(f.transformer(), List.of("--vae", f.ae().toString(), "--clip-l", wrong.toString(),
                "--t5", f.t5().toString()));
        assertCleanFailure(run, wrong.getFileName().toString(), "CLIP-L", Long.toString(other), Long.toString(hidden));
    }

    /** A "scaled fp8" T5 (marker tensor present) with an fp8 weight but no scale for it: damaged or not really scaled. */
    @Test
    void scaledFp8T5MissingItsScales() {
        FluxParts f = anyFiles();
        Path broken = tmp.resolve("t5xxl_fp8_e4m3fn_scaled.safetensors");
        String fp8 = writeScaledFp8WithoutScales(f.t5(), broken);
        CliRun run = generate(f.transformer(), List.of("--vae", f.ae().toString(), "--clip-l", f.clipL().toString(),
                "--t5", broken.toString()));
        assertCleanFailure(run, broken.getFileName().toString(), fp8, "scale");
    }

    @Test
    void maskWithAFluxModel() throws IOException {
        FluxParts f = anyFiles();
        ReferenceCase c = cases().getFirst();
        Path source = tmp.resolve("source.png");
        ImageIO.write(new BufferedImage(c.width(), c.height(), BufferedImage.TYPE_INT_RGB), "png", source.toFile());
        BufferedImage white = new BufferedImage(c.width(), c.height(), BufferedImage.TYPE_BYTE_GRAY);
        white.getGraphics().fillRect(0, 0, c.width(), c.height());
        Path mask = tmp.resolve("mask.png");
        ImageIO.write(white, "png", mask.toFile());
        CliRun run = generate(f.transformer(), f.componentFlags(), "--image", source.toString(), "--mask", mask.toString());
        assertCleanFailure(run, "--mask", "masked edits are not supported", "FLUX.1");
    }

    // ---------------------------------------------------------------- helpers

    /** A valid small FLUX.1 command (64x64 unless overridden, 2 steps) with {@code extra} appended. */
    private CliRun generate(Path transformer, List<String> componentFlags, String... extra) {
        List<String> args = new ArrayList<>(List.of("generate", "--model", transformer.toString()));
        args.addAll(componentFlags);
        args.addAll(List.of("--prompt", "a cat", "--steps", "2", "--seed", "1", "-o", tmp.resolve("out.png").toString()));
        List<String> more = Arrays.asList(extra);
        if (!more.contains("--size") && !more.contains("--image")) args.addAll(List.of("--size", "64x64"));
        args.addAll(more);
        return CliRun.of(args.toArray(String[]::new));
    }

    /**
     * Fails unless the run failed as a user should see it: the usage exit code, nothing on stdout, and on stderr
     * exactly one {@code error:} line, the last, holding every fragment, with no stack trace.
     */
    static void assertCleanFailure(CliRun run, String... fragments) {
        assertThat(run.exitCode()).as(run.toString()).isEqualTo(USAGE_EXIT_CODE);
        assertThat(run.out()).as(run.toString()).isEmpty();
        List<String> lines = run.errLines().lines().filter(l -> !l.isBlank()).toList();
        List<String> errors = lines.stream().filter(l -> l.startsWith("error:")).toList();
        assertThat(errors).as(run.toString()).hasSize(1);
        assertThat(lines.getLast()).as(run.toString()).isEqualTo(errors.getFirst());
        assertThat(run.err()).as(run.toString())
                .doesNotContain("\tat ", "Exception", "Caused by", "Usage:")
                .doesNotContainPattern("\\bat [a-z]+\\.[a-z]+\\.");
        for (String fragment : fragments) assertThat(errors.getFirst()).as(run.toString()).contains(fragment);
    }

    /**
     * A T5 encoder like {@code source} but {@code width} wide (d_model): every axis that is d_model in the
     * transformers layout resized, random values; heads, head width, feed-forward width and layers kept.
     */
    static void writeT5OfWidth(Path source, Path target, long width) {
        writeResized(source, target, width, t -> {
            String name = t.name();
            if (name.endsWith("relative_attention_bias.weight")) return new int[0];
            if (name.endsWith("shared.weight") || name.endsWith("embed_tokens.weight")) return new int[]{1};
            if (name.matches(".*SelfAttention\\.[qkv]\\.weight") || name.matches(".*DenseReluDense\\.wi(_[01])?\\.weight")) {
                return new int[]{1};
            }
            if (name.endsWith("SelfAttention.o.weight") || name.endsWith("DenseReluDense.wo.weight")) return new int[]{0};
            if (name.endsWith("layer_norm.weight")) return new int[]{0};
            throw new IllegalArgumentException("a T5 encoder tensor this test does not know: " + name);
        });
    }

    /** A CLIP text encoder like {@code source} but {@code width} wide (hidden size); MLP width and layers kept. */
    static void writeClipOfWidth(Path source, Path target, long hidden, long width) {
        writeResized(source, target, width, t -> {
            String name = t.name();
            if (name.contains("mlp.fc1.")) return name.endsWith(".weight") ? new int[]{1} : new int[0];
            if (name.contains("mlp.fc2.")) return new int[]{0};
            if (name.contains("embedding")) return new int[]{t.rank() - 1};
            return IntStream.range(0, t.rank()).filter(a -> t.dim(a) == hidden).toArray();
        });
    }

    /** {@code source}'s tensors with the axes {@code widthAxes} gives resized to {@code width}, random fp16 values. */
    private static void writeResized(Path source, Path target, long width, Function<TensorInfo, int[]> widthAxes) {
        Random random = new Random(7);
        try (SafetensorsFile in = SafetensorsFile.open(source)) {
            List<SafetensorsWriter.Entry> entries = new ArrayList<>();
            for (TensorInfo t : in.tensors()) {
                long[] shape = t.shape();
                for (int axis : widthAxes.apply(t)) shape[axis] = width;
                long count = Arrays.stream(shape).reduce(1, Math::multiplyExact);
                entries.add(new SafetensorsWriter.Entry(t.name(), DType.F16, shape, TensorData.generated(DType.F16, count,
                        (chunk, length) -> {
                            for (int i = 0; i < length; i++) chunk[i] = (float) (0.05 * random.nextGaussian());
                        })));
            }
            SafetensorsWriter.write(target, entries);
        }
    }

    /**
     * {@code source} with its first attention weight stored as fp8 (E4M3) and the {@code scaled_fp8} marker, but
     * no {@code *.scale_weight}; returns the fp8 tensor's name.
     */
    static String writeScaledFp8WithoutScales(Path source, Path target) {
        try (SafetensorsFile in = SafetensorsFile.open(source)) {
            String fp8 = in.names().stream().filter(n -> n.matches(".*SelfAttention\\.q\\.weight")).sorted().findFirst().orElseThrow();
            List<SafetensorsWriter.Entry> entries = new ArrayList<>();
            entries.add(new SafetensorsWriter.Entry("scaled_fp8", DType.F8_E4M3, new long[]{0}, TensorData.of(new byte[0])));
            for (TensorInfo t : in.tensors()) {
                if (t.name().equals(fp8)) {
                    byte[] ones = new byte[Math.toIntExact(t.elementCount())];
                    Arrays.fill(ones, (byte) 0x38); // 1.0 in E4M3
                    entries.add(new SafetensorsWriter.Entry(t.name(), DType.F8_E4M3, t.shape(), TensorData.of(ones)));
                } else {
                    entries.add(new SafetensorsWriter.Entry(t.name(), t.dtype(), t.shape(), TensorData.of(in.bytes(t.name()).asByteBuffer())));
                }
            }
            SafetensorsWriter.write(target, entries);
            return fp8;
        }
    }
}
