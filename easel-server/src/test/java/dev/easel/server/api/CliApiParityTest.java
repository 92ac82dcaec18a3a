package dev.easel.server.api;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.easel.diffusion.family.ModelFamily;
import dev.easel.engine.runtime.CpuFeatures;
import dev.easel.server.catalog.DiffusionPipelineLoader;
import dev.easel.server.cli.EaselCli;
import dev.easel.server.support.Fixtures;
import dev.easel.server.support.FluxParts;
import dev.easel.server.support.Http;
import dev.easel.server.support.ReferenceCase;
import dev.easel.server.support.TestServer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

import java.awt.image.BufferedImage;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

/**
 * The same request with the same seed gives the same pixels from {@code easel generate} and from the API, for every
 * family the fixtures hold (each model its text-to-image cases run on, with the case's prompt and size), with and
 * without a negative prompt, and with classifier-free guidance on: an absent negative prompt must mean the same in
 * both (SDXL conditions on zeros then, where an empty prompt would be encoded; the API used to send "").
 */
class CliApiParityTest {
    /** Guidance on for the families that use it (and the embedded scale of FLUX.1-dev). */
    private static final double GUIDANCE = 5;
    private static final int STEPS = 3;
    private static final String NEGATIVE = "blurry, low contrast";

    /**
     * One model to compare: a txt2img case of it, its catalog id and file in the server's models dir, and the weight
     * mode asked for (the catalog's {@code weights}, the CLI's {@code --weights}), empty for the family's default.
     */
    record Subject(ReferenceCase c, String id, String fileName, Optional<String> weights) {
    }

    static TestServer server;
    static final List<Subject> subjects = new ArrayList<>();

    @TempDir
    Path tmp;

    @BeforeAll
    static void start() {
        Map<String, Path> models = new LinkedHashMap<>();
        Map<String, String> settings = new LinkedHashMap<>();
        for (ModelFamily family : ModelFamily.values()) {
            for (ReferenceCase c : ReferenceCase.of(family.id())) {
                if (!c.kind().equals("txt2img")) continue;
                Map<String, Path> files = modelFiles(family, c);
                if (files.isEmpty()) continue;
                String fileName = files.keySet().iterator().next();
                Path before = models.get(fileName);
                if (before != null) {
                    // another case of the same model is already compared
                    assertThat(before).as(fileName).isEqualTo(files.get(fileName));
                    continue;
                }
                files.forEach((name, file) -> {
                    Path other = models.putIfAbsent(name, file);
                    assertThat(other == null || other.equals(file)).as(name + " is both " + other + " and " + file).isTrue();
                });
                String id = "parity-" + fileName;
                settings.put("catalog." + id + ".family", family.id());
                settings.put("catalog." + id + ".tier", "free");
                settings.put("catalog." + id + ".path", fileName);
                settings.put("catalog." + id + ".min-size", "16");
                subjects.add(new Subject(c, id, fileName, Optional.empty()));
                if (family == ModelFamily.FLUX && CpuFeatures.integerDotProduct()) {
                    // FLUX.1's fast mode (its default where fp32 does not fit) through both front ends
                    String w8a8 = "parity-w8a8-" + fileName;
                    settings.put("catalog." + w8a8 + ".family", family.id());
                    settings.put("catalog." + w8a8 + ".tier", "free");
                    settings.put("catalog." + w8a8 + ".path", fileName);
                    settings.put("catalog." + w8a8 + ".min-size", "16");
                    settings.put("catalog." + w8a8 + ".weights", "w8a8");
                    subjects.add(new Subject(c, w8a8, fileName, Optional.of("w8a8")));
                }
            }
        }
        assumeFalse(subjects.isEmpty(), "no text-to-image case with its weights under " + Fixtures.root());
        TestServer.Builder builder = TestServer.builder().loader(new DiffusionPipelineLoader());
        models.forEach(builder::model);
        settings.forEach(builder::set);
        server = builder.start();
    }

    /**
     * The files the case's model is made of, by their name in the models dir, the checkpoint first: the single file
     * (else the diffusers folder) under its family and file name; for FLUX.1 the transformer and its parts under the names they are downloaded as.
     * Empty when the fixture directory lacks them.
     */
    private static Map<String, Path> modelFiles(ModelFamily family, ReferenceCase c) {
        Map<String, Path> files = new LinkedHashMap<>();
        if (family == ModelFamily.FLUX) {
            if (!FluxParts.present(c)) return files;
            FluxParts parts = FluxParts.of(c);
            files.put(parts.transformerDownloadName(), parts.transformer());
            files.putAll(parts.componentsByDownloadName());
            return files;
        }
        // the family's name first: renamed fixtures may give two families' files the same name
        Optional<Path> model = c.fixture().singleFile().or(() -> c.fixture().diffusersFolder());
        model.ifPresent(m -> files.put(family.id() + "-" + m.getFileName(), m));
        return files;
    }

    @AfterAll
    static void stop() {
        if (server != null) server.close();
    }

    @TestFactory
    Stream<DynamicTest> sameRequestSameSeedSamePixels() {
        List<DynamicTest> tests = new ArrayList<>();
        for (Subject s : subjects) {
            for (Optional<String> negative : List.of(Optional.<String>empty(), Optional.of(s.c().negativePrompt().orElse(NEGATIVE)))) {
                String name = s.c().family() + " " + s.fileName() + s.weights().map(w -> " in " + w).orElse("")
                        + (negative.isPresent() ? " with" : " without") + " a negative prompt";
                tests.add(DynamicTest.dynamicTest(name, () -> compare(s, negative)));
            }
        }
        return tests.stream();
    }

    private void compare(Subject s, Optional<String> negative) {
        ReferenceCase c = s.c();
        Path model = server.config.modelsDir().resolve(s.fileName());
        Path out = tmp.resolve("cli.png");
        List<String> args = new ArrayList<>(List.of("generate", "--model", model.toString(), "--prompt", c.prompt(),
                "--size", c.size(), "--steps", Integer.toString(STEPS), "--guidance", Double.toString(GUIDANCE),
                "--seed", Long.toString(c.seed()), "-o", out.toString()));
        negative.ifPresent(n -> args.addAll(List.of("--negative-prompt", n)));
        s.weights().ifPresent(w -> args.addAll(List.of("--weights", w)));
        StringWriter err = new StringWriter();
        CommandLine cli = EaselCli.commandLine();
        cli.setOut(new PrintWriter(new StringWriter(), true));
        cli.setErr(new PrintWriter(err, true));
        assertThat(cli.execute(args.toArray(String[]::new))).as(err.toString()).isZero();

        ObjectNode body = Http.JSON.createObjectNode();
        body.put("model", s.id());
        body.put("prompt", c.prompt());
        body.put("size", c.size());
        body.put("steps", STEPS);
        body.put("guidance_scale", GUIDANCE);
        body.put("seed", c.seed());
        body.put("response_format", "b64_json");
        negative.ifPresent(n -> body.put("negative_prompt", n));
        Http.Response r = new Http(server.baseUrl()).postJson("/v1/images/generations", server.free, body);
        assertThat(r.status()).as(r.text()).isEqualTo(200);
        JsonNode data = r.json().get("data");
        assertThat(data.size()).isEqualTo(1);
        s.weights().ifPresent(w -> {
            Http.Response listed = new Http(server.baseUrl()).get("/v1/models/" + s.id(), server.free);
            assertThat(listed.json().path("weights").asText()).as(listed.text()).isEqualTo(w);
        });

        BufferedImage fromCli = ReferenceCase.read(out);
        BufferedImage fromApi = ReferenceCase.read(Base64.getDecoder().decode(data.get(0).get("b64_json").asText()));
        assertThat(fromApi.getWidth()).isEqualTo(c.width());
        assertThat(fromApi.getHeight()).isEqualTo(c.height());
        int w = c.width();
        int h = c.height();
        assertThat(fromApi.getRGB(0, 0, w, h, null, 0, w)).as("API pixels vs CLI pixels, %d levels apart at most",
                ReferenceCase.maxChannelDifference(fromCli, fromApi)).isEqualTo(fromCli.getRGB(0, 0, w, h, null, 0, w));
    }
}
