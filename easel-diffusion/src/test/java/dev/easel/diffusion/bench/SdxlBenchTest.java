package dev.easel.diffusion.bench;

import dev.easel.diffusion.fixtures.FixtureCase;
import dev.easel.engine.runtime.RuntimeOptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import java.util.Optional;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The SDXL bench, run on the tiny fixture model instead of the real-size one (which only the lead runs). */
class SdxlBenchTest {
    @TempDir
    Path cache;

    @Test
    void reportsStepsDecodesMemoryAndThroughput() {
        Path tiny = FixtureCase.requireSingleFile("sdxl");
        StringWriter text = new StringWriter();
        PipelineBench.runStableDiffusionXL(new PipelineBench.Settings(cache, 64, 64, 2, RuntimeOptions.defaults()),
                Optional.of(tiny), new PrintWriter(text));
        assertThat(text.toString()).contains("SDXL 64x64, no guidance (batch 1), 2 steps", "UNet step 1:", "VAE decode whole:",
                "VAE decode tiled", "UNet step:", "VAE decode, whole:", "VAE decode, tiled:", "summary: UNet");
        assertThat(cache).isEmptyDirectory();
    }

    @Test
    void refusesACheckpointOfAnotherFamily() {
        // either layout of another family will do
        Path sd15 = FixtureCase.diffusersFolder("sd15").orElseGet(() -> FixtureCase.requireSingleFile("sd15"));
        assertThatThrownBy(() -> PipelineBench.runStableDiffusionXL(new PipelineBench.Settings(cache, 64, 64, 1, RuntimeOptions.defaults()),
                Optional.of(sd15), new PrintWriter(new StringWriter()))).hasMessageContaining("not SDXL");
    }
}
