package dev.easel.server.cli;

import dev.easel.server.config.ServerConfig.FileSource;
import dev.easel.server.hub.ModelPuller.PlannedFile;
import dev.easel.server.hub.RemoteFile;
import org.junit.jupiter.api.Test;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.URI;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

import static org.assertj.core.api.Assertions.assertThat;

/** The download display: bars redrawn in place on a terminal, one line per file elsewhere. */
class PullProgressTest {
    static PlannedFile file(String name, long size) {
        FileSource source = new FileSource("owner/repo", null, name, null);
        RemoteFile remote = new RemoteFile(source, size, Optional.of("0".repeat(64)), Optional.empty(), Optional.empty(), URI.create("http://127.0.0.1/x"));
        return new PlannedFile(source, Path.of("/models", name), Optional.of(remote), false, 0);
    }

    @Test
    void aTerminalGetsABarPerFileRedrawnInPlace() {
        PlannedFile a = file("a.safetensors", 2_000_000);
        PlannedFile b = file("bb.safetensors", 1_000_000);
        StringWriter text = new StringWriter();
        PullProgress p = new PullProgress(new PrintWriter(text), true, List.of(a, b));
        p.started(a, 0);
        p.progress(a, 1_000_000);
        p.finished(a);
        String out = text.toString();
        assertThat(out).contains("\033[2A"); // back up over both bars before each redraw
        assertThat(out).contains("a.safetensors  [" + "#".repeat(24) + "] 100%  2.00 MB / 2.00 MB");
        assertThat(out).contains("bb.safetensors [" + " ".repeat(24) + "]   0%  0 B / 1.00 MB");
        assertThat(out).contains("verified");
    }

    @Test
    void elsewhereOneLinePerFile() {
        PlannedFile a = file("a.safetensors", 2_000_000);
        StringWriter text = new StringWriter();
        PullProgress p = new PullProgress(new PrintWriter(text), false, List.of(a));
        p.started(a, 500_000);
        p.progress(a, 1_000_000);
        p.retrying(a, 1, "connection reset");
        p.finished(a);
        assertThat(text.toString().lines()).containsExactly(
                "a.safetensors: resuming after 500 kB of 2.00 MB",
                "a.safetensors: connection reset; resuming (retry 1)",
                text.toString().lines().toList().get(2));
        assertThat(text.toString().lines().toList().get(2)).startsWith("a.safetensors  2.00 MB  verified and in place (");
        assertThat(text.toString()).doesNotContain("\033");
    }
}
