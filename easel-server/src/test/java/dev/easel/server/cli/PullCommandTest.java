package dev.easel.server.cli;

import dev.easel.server.support.FakeHub;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/** {@code easel pull} and {@code easel models} end to end, against {@link FakeHub} on 127.0.0.1. */
class PullCommandTest {
    @TempDir
    Path models;
    FakeHub hub;
    final byte[] sd15 = FakeHub.content(90_000, 11);

    @BeforeEach
    void start() throws IOException {
        hub = new FakeHub()
                .file("stable-diffusion-v1-5/stable-diffusion-v1-5", "v1-5-pruned-emaonly.safetensors", sd15)
                .file("black-forest-labs/FLUX.1-schnell", "flux1-schnell.safetensors", FakeHub.content(60_000, 12))
                .file("black-forest-labs/FLUX.1-schnell", "ae.safetensors", FakeHub.content(20_000, 13))
                .file("comfyanonymous/flux_text_encoders", "clip_l.safetensors", FakeHub.content(10_000, 14))
                .file("comfyanonymous/flux_text_encoders", "t5xxl_fp16.safetensors", FakeHub.content(40_000, 15))
                .file("black-forest-labs/FLUX.1-dev", "flux1-dev.safetensors", FakeHub.content(60_000, 16))
                .file("city96/FLUX.1-schnell-gguf", "flux1-schnell-Q4_0.gguf", FakeHub.content(30_000, 17))
                .gated("black-forest-labs/FLUX.1-dev", "hf_accepted");
    }

    @AfterEach
    void stop() {
        hub.close();
    }

    CliRun run(String... args) {
        String[] all = new String[args.length + 4];
        System.arraycopy(args, 0, all, 0, args.length);
        all[args.length] = "--models-dir";
        all[args.length + 1] = models.toString();
        all[args.length + 2] = "--set";
        all[args.length + 3] = "hub.endpoint=" + hub.url();
        return CliRun.of(all);
    }

    @Test
    void pullsACatalogModelsFilesAndSaysHowToServeIt() throws IOException {
        CliRun r = run("pull", "flux.1-schnell");
        assertThat(r.exitCode()).as(r.toString()).isZero();
        assertThat(r.out()).contains("flux.1-schnell: 4 file(s), 4 to download (130 kB) from " + hub.url());
        assertThat(r.out()).contains("'flux.1-schnell' is installed in " + models);
        // not a terminal: one line per file
        assertThat(r.err().lines().filter(l -> l.contains("verified and in place")))
                .hasSize(4).anyMatch(l -> l.startsWith("t5xxl_fp16.safetensors  40.0 kB  verified and in place"));
        assertThat(models.resolve("flux1-schnell.safetensors")).exists();
        assertThat(models.resolve("t5xxl_fp16.safetensors")).exists();

        CliRun again = run("pull", "flux.1-schnell");
        assertThat(again.exitCode()).isZero();
        assertThat(again.out()).contains("4 file(s), 4 already in place");
        assertThat(hub.transfers()).hasSize(4);
    }

    @Test
    void pullsAnyHubFileByRepositoryAndPath() {
        CliRun r = run("pull", "city96/FLUX.1-schnell-gguf:flux1-schnell-Q4_0.gguf", "--as", "gguf/schnell-q4.gguf");
        assertThat(r.exitCode()).as(r.toString()).isZero();
        assertThat(models.resolve("gguf/schnell-q4.gguf")).hasSize(30_000);
        CliRun escape = run("pull", "city96/FLUX.1-schnell-gguf:flux1-schnell-Q4_0.gguf", "--as", "../outside.gguf");
        assertThat(escape.exitCode()).isEqualTo(1);
        assertThat(escape.err()).contains("--as must be a path inside the models dir");
    }

    @Test
    void listsEveryCatalogModelWithItsFilesAndSizes() throws IOException {
        assertThat(run("pull", "stable-diffusion-1.5").exitCode()).isZero();
        for (String[] args : new String[][]{{"models"}, {"pull", "--list"}}) {
            CliRun r = run(args);
            assertThat(r.exitCode()).as(r.toString()).isZero();
            assertThat(r.out()).containsPattern("stable-diffusion-1.5 +free +installed\\n")
                    .containsPattern("stable-diffusion-1.5.safetensors +90.0 kB +in place +stable-diffusion-v1-5/stable-diffusion-v1-5:v1-5-pruned-emaonly.safetensors")
                    .containsPattern("flux.1-schnell +pro +not installed: 130 kB to download, `easel pull flux.1-schnell`")
                    .containsPattern("t5xxl_fp16.safetensors +40.0 kB +missing +comfyanonymous/flux_text_encoders:t5xxl_fp16.safetensors")
                    .containsPattern("flux1-dev.safetensors +\\? +missing \\(gated\\)")
                    .containsPattern("sdxl_lightning_4step.safetensors +\\? +missing \\(not found\\) +ByteDance/SDXL-Lightning");
        }
        CliRun offline = run("models", "--offline");
        assertThat(offline.out()).containsPattern("t5xxl_fp16.safetensors +\\? +missing +comfyanonymous");
    }

    @Test
    void refusalsAreOneClearLineAndLeaveNothingBehind() throws IOException {
        CliRun gated = run("pull", "oxlo-image-pro");
        assertThat(gated.exitCode()).isEqualTo(1);
        assertThat(gated.err()).contains("easel pull: flux1-dev.safetensors: ").contains("black-forest-labs/FLUX.1-dev")
                .contains("accept its licence at " + hub.url() + "/black-forest-labs/FLUX.1-dev");
        CliRun unknown = run("pull", "stable-diffusion-9");
        assertThat(unknown.exitCode()).isEqualTo(1);
        assertThat(unknown.err()).contains("'stable-diffusion-9' is neither a catalog model (stable-diffusion-1.5, ");
        CliRun none = run("pull");
        assertThat(none.exitCode()).isEqualTo(2);
        try (var files = Files.list(models)) {
            assertThat(files).isEmpty();
        }
    }
}
