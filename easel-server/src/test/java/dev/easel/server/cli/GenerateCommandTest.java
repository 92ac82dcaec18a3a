package dev.easel.server.cli;

import com.fasterxml.jackson.databind.JsonNode;
import dev.easel.engine.weights.SafetensorsFile;
import dev.easel.server.support.Fixtures;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * {@code easel generate} driven in-process: the reference images reproduced from the command line with the
 * fixtures' seeds, from both checkpoint layouts; every bad input refused with one clear line and a non-zero
 * exit code; the progress bar; several images per run.
 */
class GenerateCommandTest {
    private static final Pattern SEED = Pattern.compile("seeded with (\\d+)");

    @TempDir
    Path tmp;

    static Path fixtures() {
        return Fixtures.root();
    }

    static Path sd15File() {
        return Fixtures.sd15SingleFile();
    }

    // ---------------------------------------------------------------- the reference, from the command line

    @TestFactory
    Stream<DynamicTest> everyCaseOfEveryServedFamilyFromBothLayouts() {
        List<DynamicTest> tests = new ArrayList<>();
        int cases = 0;
        for (String family : List.of("sd15", "sdxl")) {
            for (Fixtures.Case c : Fixtures.cases(family)) {
                cases++;
                for (Path model : c.models()) {
                    String layout = c.diffusersFolder().filter(model::equals).isPresent() ? "diffusers" : "single_file";
                    tests.add(DynamicTest.dynamicTest(c + " from " + layout, () -> reproduceCase(c.dir(), c.manifest(), model)));
                }
                if (c.models().isEmpty()) {
                    String reason = c + ": none of the weights its manifest names is in " + fixtures();
                    tests.add(DynamicTest.dynamicTest(c + " (no weights)", () -> assumeTrue(false, reason)));
                }
            }
        }
        assertThat(cases).as("sd15 and sdxl cases under " + fixtures()).isPositive();
        return tests.stream();
    }

    private void reproduceCase(Path dir, JsonNode manifest, Path model) throws IOException {
        assertThat(model).exists();
        JsonNode p = manifest.get("params");
        Matcher seed = SEED.matcher(manifest.get("seed_convention").asText());
        assertThat(seed.find()).as("seed in " + manifest.get("seed_convention")).isTrue();
        Path out = tmp.resolve(dir.getFileName() + "-" + model.getFileName() + ".png");

        List<String> args = new ArrayList<>(List.of("generate", "--model", model.toString(),
                "--prompt", p.get("prompt").asText(),
                "--size", p.get("width").asInt() + "x" + p.get("height").asInt(),
                "--steps", p.get("steps").asText(),
                "--guidance", p.get("guidance").asText(),
                "--seed", seed.group(1),
                "-o", out.toString()));
        if (p.hasNonNull("negative_prompt")) args.addAll(List.of("--negative-prompt", p.get("negative_prompt").asText()));
        if (p.hasNonNull("scheduler")) args.addAll(List.of("--sampler", p.get("scheduler").asText()));
        if (Files.isRegularFile(dir.resolve("source.png"))) {
            args.addAll(List.of("--image", dir.resolve("source.png").toString(), "--strength", p.path("strength").asText("1.0")));
        }
        if (Files.isRegularFile(dir.resolve("mask.png"))) args.addAll(List.of("--mask", dir.resolve("mask.png").toString()));

        CliRun run = CliRun.of(args.toArray(String[]::new));
        assertThat(run.exitCode()).as(run.toString()).isZero();
        assertThat(run.out().strip()).isEqualTo(out.toString());

        BufferedImage ours = ImageIO.read(out.toFile());
        BufferedImage reference = ImageIO.read(dir.resolve("image.png").toFile());
        assertThat(ours.getWidth()).isEqualTo(reference.getWidth());
        assertThat(ours.getHeight()).isEqualTo(reference.getHeight());
        assertThat(maxChannelDifference(ours, reference)).as(dir.getFileName() + " PNG vs image.png, 8-bit levels")
                .isLessThanOrEqualTo(1);
    }

    /** The comparison above can fail: another seed, same everything else, is far from the reference. */
    @Test
    void anotherSeedDoesNotMatchTheReference() throws IOException {
        Fixtures.Case c = Fixtures.cases("sd15").stream()
                .filter(k -> k.manifest().path("kind").asText().equals("txt2img") && !k.models().isEmpty()).findFirst().orElse(null);
        assumeTrue(c != null, "no sd15 txt2img case with weights in " + fixtures());
        Path dir = c.dir();
        JsonNode manifest = c.manifest();
        JsonNode p = manifest.get("params");
        Matcher seed = SEED.matcher(manifest.get("seed_convention").asText());
        assertThat(seed.find()).isTrue();
        Path out = tmp.resolve("other-seed.png");
        List<String> args = new ArrayList<>(List.of("generate", "--model", c.models().getFirst().toString(), "--prompt", p.get("prompt").asText(),
                "--size", p.get("width").asInt() + "x" + p.get("height").asInt(), "--steps", p.get("steps").asText(),
                "--guidance", p.get("guidance").asText(), "--seed", Long.toString(Long.parseLong(seed.group(1)) + 1),
                "-o", out.toString()));
        if (p.hasNonNull("negative_prompt")) args.addAll(List.of("--negative-prompt", p.get("negative_prompt").asText()));
        if (p.hasNonNull("scheduler")) args.addAll(List.of("--sampler", p.get("scheduler").asText()));
        CliRun run = CliRun.of(args.toArray(String[]::new));
        assertThat(run.exitCode()).as(run.toString()).isZero();
        assertThat(maxChannelDifference(ImageIO.read(out.toFile()), ImageIO.read(dir.resolve("image.png").toFile())))
                .isGreaterThan(8);
    }

    // ---------------------------------------------------------------- bad inputs

    @Test
    void missingModelFile() {
        Path missing = tmp.resolve("nowhere/model.safetensors");
        CliRun run = generate("--model", missing.toString());
        assertCleanFailure(run, "--model", missing.toString());
        assertThat(run.err()).containsIgnoringCase("no such file");
    }

    @Test
    void textFileAsModel() throws IOException {
        Path notes = Files.writeString(tmp.resolve("model.safetensors"), "these are my notes about models, not a model\n");
        CliRun run = generate("--model", notes.toString());
        assertCleanFailure(run, notes.toString(), "not a safetensors file");
    }

    @Test
    void emptyFolderAsModel() throws IOException {
        Path empty = Files.createDirectory(tmp.resolve("empty-model"));
        CliRun run = generate("--model", empty.toString());
        assertCleanFailure(run, empty.toString(), "model_index.json");
    }

    @Test
    void sizeNotAMultipleOfEight() {
        CliRun run = generate("--size", "100x64");
        assertCleanFailure(run, "--size", "multiples of 8", "100x64");
    }

    @ParameterizedTest
    @ValueSource(strings = {"abc", "64", "64x", "x64", "0x64", "-8x64", "64x64x64"})
    void sizeThatIsNotWxH(String size) {
        CliRun run = generate("--size", size);
        assertCleanFailure(run, "--size", size);
        assertThat(run.err()).contains("512x512");
    }

    @ParameterizedTest
    @ValueSource(strings = {"0", "-3"})
    void stepsBelowOne(String steps) {
        CliRun run = generate("--steps", steps);
        assertCleanFailure(run, "--steps", "at least 1", steps);
    }

    @Test
    void stepsNotANumber() {
        CliRun run = generate("--steps", "many");
        assertCleanFailure(run, "--steps", "many");
    }

    @ParameterizedTest
    @ValueSource(strings = {"1.5", "-0.1", "NaN"})
    void strengthOutsideZeroToOne(String strength) {
        CliRun run = generate("--image", source().toString(), "--strength", strength);
        assertCleanFailure(run, "--strength", "[0, 1]", strength);
    }

    @Test
    void maskWithoutImage() {
        CliRun run = generate("--mask", Fixtures.caseFile("mask.png", "sd15").toString());
        assertCleanFailure(run, "--mask", "--image");
    }

    @Test
    void imageThatDoesNotExist() {
        Path missing = tmp.resolve("missing.png");
        CliRun run = generate("--image", missing.toString());
        assertCleanFailure(run, "--image", missing.toString());
        assertThat(run.err()).containsIgnoringCase("no such file");
    }

    @Test
    void imageThatIsNotAnImage() throws IOException {
        Path text = Files.writeString(tmp.resolve("photo.png"), "not a picture");
        CliRun run = generate("--image", text.toString());
        assertCleanFailure(run, "--image", text.toString(), "not an image");
    }

    @Test
    void maskThatIsNotAnImage() throws IOException {
        Path text = Files.writeString(tmp.resolve("mask.png"), "not a picture");
        CliRun run = generate("--image", source().toString(), "--mask", text.toString());
        assertCleanFailure(run, "--mask", text.toString(), "not an image");
    }

    @Test
    void imageThatIsATruncatedPng() throws IOException {
        byte[] png = Files.readAllBytes(source());
        Path truncated = Files.write(tmp.resolve("truncated.png"), Arrays.copyOf(png, 60));
        CliRun run = generate("--image", truncated.toString());
        assertCleanFailure(run, "--image", truncated.toString());
    }

    @Test
    void imageOfAnotherSizeThanRequested() throws IOException {
        BufferedImage src = ImageIO.read(source().toFile());
        String other = (src.getWidth() + 8) + "x" + src.getHeight();
        CliRun run = generate("--image", source().toString(), "--size", other);
        assertCleanFailure(run, "--image", src.getWidth() + "x" + src.getHeight(), "--size", other);
    }

    @Test
    void maskOfAnotherSizeThanTheImage() throws IOException {
        BufferedImage src = ImageIO.read(source().toFile());
        Path mask = tmp.resolve("small-mask.png");
        ImageIO.write(new BufferedImage(src.getWidth() / 2, src.getHeight() / 2, BufferedImage.TYPE_BYTE_GRAY), "png", mask.toFile());
        CliRun run = generate("--image", source().toString(), "--mask", mask.toString());
        assertCleanFailure(run, "--mask", (src.getWidth() / 2) + "x" + (src.getHeight() / 2), "--image", src.getWidth() + "x" + src.getHeight());
    }

    @Test
    void imageWhoseSizeTheModelCannotRun() throws IOException {
        BufferedImage odd = new BufferedImage(36, 32, BufferedImage.TYPE_INT_RGB);
        Path file = tmp.resolve("odd.png");
        ImageIO.write(odd, "png", file.toFile());
        CliRun run = generate("--image", file.toString());
        assertCleanFailure(run, "--image", "36x32", "multiples of 8");
    }

    @Test
    void moreStepsThanTheModelWasTrainedWith() {
        CliRun run = generate("--steps", "1001");
        assertCleanFailure(run, "--steps", "1000", "1001");
    }

    @Test
    void unknownSamplerListsTheAcceptedOnes() {
        CliRun run = generate("--sampler", "heun_turbo");
        assertCleanFailure(run, "--sampler", "heun_turbo", "euler", "euler_a", "ddim", "dpmpp_2m_karras");
        assertThat(run.err()).doesNotContain("(also )");
    }

    @Test
    void samplerOfAnotherModelType() {
        CliRun run = generate("--sampler", "flow_euler");
        assertCleanFailure(run, "--sampler", "flow_euler", "euler");
    }

    @ParameterizedTest
    @ValueSource(strings = {"0", "-1"})
    void imageCountBelowOne(String n) {
        CliRun run = generate("-n", n);
        assertCleanFailure(run, "-n", "at least 1", n);
    }

    @Test
    void outputFolderThatDoesNotExist() {
        Path out = tmp.resolve("no/such/folder/out.png");
        CliRun run = generate("-o", out.toString());
        assertCleanFailure(run, "-o", out.getParent().toString());
    }

    @Test
    void outputThatIsAFolder() {
        CliRun run = generate("-o", tmp.toString());
        assertCleanFailure(run, "-o", tmp.toString(), "folder");
    }

    @Test
    void unknownOptionCloseToAKnownOne() {
        CliRun run = generate("--negative_prompt", "blurry");
        assertCleanFailure(run, "--negative_prompt", "--negative-prompt");
    }

    @Test
    void unknownOption() {
        CliRun run = generate("--colour", "blue");
        assertCleanFailure(run, "--colour");
    }

    @Test
    void missingPrompt() {
        CliRun run = CliRun.of("generate", "--model", sd15File().toString(), "-o", tmp.resolve("out.png").toString());
        assertCleanFailure(run, "--prompt");
    }

    // ---------------------------------------------------------------- broken checkpoints

    /**
     * One tensor gone from the user's file, the message naming it as the file does. Chosen to reach every way a
     * missing tensor is found: the checks of each component's weights, the tensors the single-file configuration
     * is inferred from (several of which used to shrink the model silently: a text encoder layer, a UNet level's
     * attention, the VAE's quant convs), and the family detection (the UNet's input convolution).
     */
    @ParameterizedTest
    @ValueSource(strings = {
            "model.diffusion_model.input_blocks.2.0.out_layers.3.weight",
            "model.diffusion_model.input_blocks.1.1.norm.weight",
            "model.diffusion_model.input_blocks.1.0.in_layers.2.weight",
            "model.diffusion_model.middle_block.1.proj_in.weight",
            "model.diffusion_model.out.2.weight",
            "model.diffusion_model.input_blocks.0.0.weight",
            "cond_stage_model.transformer.text_model.encoder.layers.0.self_attn.q_proj.weight",
            "cond_stage_model.transformer.text_model.encoder.layers.1.self_attn.q_proj.weight",
            "cond_stage_model.transformer.text_model.encoder.layers.1.mlp.fc2.bias",
            "cond_stage_model.transformer.text_model.embeddings.token_embedding.weight",
            "first_stage_model.decoder.mid.attn_1.q.bias",
            "first_stage_model.decoder.conv_in.weight",
            "first_stage_model.encoder.down.0.block.0.conv1.weight",
            "first_stage_model.quant_conv.weight",
            "first_stage_model.post_quant_conv.bias"})
    void checkpointWithATensorMissing(String dropped) {
        assumeHasTensor(dropped);
        Path broken = tmp.resolve("missing-tensor.safetensors");
        BrokenCheckpoints.copyWithout(sd15File(), broken, dropped);
        CliRun run = generate("--model", broken.toString());
        assertCleanFailure(run, broken.toString(), "'" + dropped + "'", "missing");
    }

    /** A tensor stored under another shape: the message names it as the file does, with its shape in the file. */
    @ParameterizedTest
    @ValueSource(strings = {
            "model.diffusion_model.input_blocks.2.0.out_layers.3.weight",
            "model.diffusion_model.output_blocks.3.1.transformer_blocks.0.attn2.to_k.weight",
            "cond_stage_model.transformer.text_model.encoder.layers.1.mlp.fc2.weight",
            "first_stage_model.decoder.up.1.block.0.conv1.weight",
            // read to infer the configuration
            "model.diffusion_model.input_blocks.1.0.in_layers.2.weight",
            "model.diffusion_model.middle_block.1.transformer_blocks.0.attn2.to_k.weight",
            "cond_stage_model.transformer.text_model.embeddings.token_embedding.weight",
            "first_stage_model.decoder.conv_in.weight",
            "first_stage_model.encoder.down.0.block.0.conv1.weight",
            // read to detect the family
            "model.diffusion_model.input_blocks.0.0.weight"})
    void checkpointWithATensorOfTheWrongShape(String reshaped) {
        assumeHasTensor(reshaped);
        Path broken = tmp.resolve("wrong-shape.safetensors");
        long[] original = BrokenCheckpoints.copyReshaped(sd15File(), broken, reshaped);
        CliRun run = generate("--model", broken.toString());
        long[] stored;
        try (SafetensorsFile file = SafetensorsFile.open(broken)) {
            stored = file.info(reshaped).shape();
        }
        assertCleanFailure(run, broken.toString(), "'" + reshaped + "'", Arrays.toString(stored));
        assertThat(original).isNotEqualTo(stored);
    }

    // ---------------------------------------------------------------- progress and outputs

    @Test
    void progressBarShowsEveryStepSpeedAndEta() {
        CliRun run = generate("--steps", "3");
        assertThat(run.exitCode()).as(run.toString()).isZero();
        String err = run.errLines();
        assertThat(err).contains("step 1/3", "step 2/3", "step 3/3", "ETA");
        assertThat(err.contains("it/s") || err.contains("s/it")).as("speed in " + err).isTrue();
        assertThat(err).doesNotContain("step 4/3", "step 0/3");
        assertThat(err.indexOf("step 1/3")).isLessThan(err.indexOf("step 2/3"));
        assertThat(err.indexOf("step 2/3")).isLessThan(err.indexOf("step 3/3"));
    }

    @Test
    void progressCountsTheStepsThatRunForImageToImage() {
        // 4 steps at strength 0.5 run the last 2, as diffusers does
        CliRun run = generate("--image", source().toString(), "--steps", "4", "--strength", "0.5");
        assertThat(run.exitCode()).as(run.toString()).isZero();
        assertThat(run.errLines()).contains("step 1/2", "step 2/2").doesNotContain("/4");
    }

    @Test
    void twoImagesGoToTwoFiles() throws IOException {
        Path out = tmp.resolve("out.png");
        CliRun run = CliRun.of("generate", "--model", sd15File().toString(), "--prompt", "a cat", "--size", "40x32",
                "--steps", "2", "--seed", "7", "-n", "2", "-o", out.toString());
        assertThat(run.exitCode()).as(run.toString()).isZero();
        Path second = tmp.resolve("out-2.png");
        assertThat(run.out().lines().toList()).containsExactly(out.toString(), second.toString());
        BufferedImage first = ImageIO.read(out.toFile());
        BufferedImage other = ImageIO.read(second.toFile());
        for (BufferedImage image : List.of(first, other)) {
            assertThat(image).isNotNull();
            assertThat(image.getWidth()).isEqualTo(40);
            assertThat(image.getHeight()).isEqualTo(32);
        }
        assertThat(maxChannelDifference(first, other)).as("the two images differ").isGreaterThan(8);
        assertThat(Files.list(tmp).map(f -> f.getFileName().toString()).sorted().toList())
                .containsExactly("out-2.png", "out.png");
    }

    @Test
    void sameSeedSameImage() throws IOException {
        Path a = tmp.resolve("a.png");
        Path b = tmp.resolve("b.png");
        assertThat(generate("--seed", "123", "-o", a.toString()).exitCode()).isZero();
        assertThat(generate("--seed", "123", "-o", b.toString()).exitCode()).isZero();
        assertThat(Files.readAllBytes(a)).isEqualTo(Files.readAllBytes(b));
        Path c = tmp.resolve("c.png");
        assertThat(generate("--seed", "124", "-o", c.toString()).exitCode()).isZero();
        assertThat(maxChannelDifference(ImageIO.read(a.toFile()), ImageIO.read(c.toFile()))).isGreaterThan(8);
    }

    @Test
    void imageSizeDefaultsToTheSourceImage() throws IOException {
        Path out = tmp.resolve("edit.png");
        CliRun run = CliRun.of("generate", "--model", sd15File().toString(), "--prompt", "a cat", "--steps", "2",
                "--seed", "1", "--image", source().toString(), "-o", out.toString());
        assertThat(run.exitCode()).as(run.toString()).isZero();
        BufferedImage image = ImageIO.read(out.toFile());
        BufferedImage src = ImageIO.read(source().toFile());
        assertThat(image.getWidth()).isEqualTo(src.getWidth());
        assertThat(image.getHeight()).isEqualTo(src.getHeight());
    }

    // ---------------------------------------------------------------- helpers

    /** A valid small txt2img command with {@code overrides} appended (picocli keeps the last value of an option). */
    private CliRun generate(String... overrides) {
        List<String> args = new ArrayList<>(List.of("generate", "--model", sd15File().toString(), "--prompt", "a cat",
                "--size", "32x32", "--steps", "2", "--seed", "1", "-o", tmp.resolve("out.png").toString()));
        List<String> extra = new ArrayList<>(Arrays.asList(overrides));
        // a source image brings its own size
        if (extra.contains("--image") && !extra.contains("--size")) {
            int at = args.indexOf("--size");
            args.remove(at + 1);
            args.remove(at);
        }
        // "--model" given again would be rejected by picocli as a repeated single-value option: replace it
        for (String option : List.of("--model", "--size", "--steps", "-o", "--seed")) {
            int at = extra.indexOf(option);
            if (at >= 0) {
                int base = args.indexOf(option);
                args.set(base + 1, extra.get(at + 1));
                extra.remove(at + 1);
                extra.remove(at);
            }
        }
        args.addAll(extra);
        return CliRun.of(args.toArray(String[]::new));
    }

    /** The tensor names above are the SD 1.x layout's; a fixture model of other depths may lack some. */
    private static void assumeHasTensor(String name) {
        try (SafetensorsFile file = SafetensorsFile.open(sd15File())) {
            assumeTrue(file.names().contains(name), sd15File() + " has no tensor " + name);
        }
    }

    /** A recorded source image (of the first case that has one). */
    private static Path source() {
        return Fixtures.caseFile("source.png", "sd15", "sdxl", "flux");
    }

    /**
     * Fails unless the run failed the way a user should see it: a non-zero exit code, no output file named on
     * stdout, and on stderr exactly one line, starting {@code error:}, that mentions every fragment, with no
     * stack trace or exception class name.
     */
    static void assertCleanFailure(CliRun run, String... fragments) {
        assertThat(run.exitCode()).as(run.toString()).isNotZero();
        assertThat(run.out()).as(run.toString()).isEmpty();
        List<String> lines = run.errLines().lines().filter(l -> !l.isBlank()).toList();
        List<String> errors = lines.stream().filter(l -> l.startsWith("error:")).toList();
        assertThat(errors).as(run.toString()).hasSize(1);
        String error = errors.getFirst();
        assertThat(run.err()).as(run.toString())
                .doesNotContain("\tat ", "Exception", "Caused by", "Usage:")
                .doesNotContainPattern("\\bat [a-z]+\\.[a-z]+\\.");
        for (String fragment : fragments) assertThat(error).as(run.toString()).contains(fragment);
        // Nothing else but the informational "loaded ..." line and the progress bar may precede it
        assertThat(lines.getLast()).as(run.toString()).isEqualTo(error);
    }

    static int maxChannelDifference(BufferedImage a, BufferedImage b) {
        assertThat(a.getWidth()).isEqualTo(b.getWidth());
        assertThat(a.getHeight()).isEqualTo(b.getHeight());
        int worst = 0;
        for (int y = 0; y < a.getHeight(); y++) {
            for (int x = 0; x < a.getWidth(); x++) {
                int p = a.getRGB(x, y);
                int q = b.getRGB(x, y);
                for (int shift = 0; shift <= 16; shift += 8) {
                    worst = Math.max(worst, Math.abs(((p >> shift) & 0xff) - ((q >> shift) & 0xff)));
                }
            }
        }
        return worst;
    }
}
