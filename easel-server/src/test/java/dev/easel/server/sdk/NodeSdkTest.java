package dev.easel.server.sdk;

import dev.easel.server.auth.Tier;
import dev.easel.server.catalog.DiffusionPipelineLoader;
import dev.easel.server.support.Fixtures;
import dev.easel.server.support.TestServer;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The official {@code openai} Node SDK ({@code src/test/node/sdk-test.mjs}) against a server running the
 * SD 1.5 fixture model. Needs {@code npm ci} in {@code src/test/node} ({@code .ci/run} does it); skipped,
 * with that message, only when {@code node_modules} is absent.
 */
class NodeSdkTest {
    static final Path NODE_PROJECT = Path.of("src/test/node");

    @Test
    void theNodeSdkGeneratesEditsStreamsAndSeesOpenAiErrors() throws Exception {
        assumeTrue(Files.isDirectory(NODE_PROJECT.resolve("node_modules/openai")),
                "node_modules is absent: run `npm ci` in easel-server/src/test/node (.ci/run does) to run the Node SDK test");
        try (TestServer server = TestServer.builder()
                .model("stable-diffusion-1.5", Fixtures.sd15Model())
                .loader(new DiffusionPipelineLoader())
                .set("limits.max-body-mb", "1")
                .set("tiers.pro.requests-per-minute", "3")
                .set("queue.capacity", "1")
                .start()) {
            String limited = server.server.keys().create("limited", Tier.PRO, false).secret();
            ProcessBuilder pb = new ProcessBuilder("node", "sdk-test.mjs").directory(NODE_PROJECT.toFile()).redirectErrorStream(true);
            pb.environment().put("EASEL_BASE_URL", server.baseUrl());
            pb.environment().put("EASEL_MODEL", "stable-diffusion-1.5");
            pb.environment().put("EASEL_KEY_FREE", server.free);
            pb.environment().put("EASEL_KEY_LIMITED", limited);
            pb.environment().put("EASEL_KEY_PREMIUM", server.premium);
            Process p = pb.start();
            boolean done = p.waitFor(180, TimeUnit.SECONDS);
            String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            System.out.println(output);
            if (!done) p.destroyForcibly();
            assertThat(done).as("the Node SDK run finished in time").isTrue();
            assertThat(p.exitValue()).as(output).isZero();
            assertThat(output).doesNotContain("not ok");
        }
    }
}
