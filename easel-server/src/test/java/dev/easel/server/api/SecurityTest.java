package dev.easel.server.api;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.classic.spi.ThrowableProxyUtil;
import ch.qos.logback.core.read.ListAppender;
import dev.easel.server.support.FakePipeline;
import dev.easel.server.support.Http;
import dev.easel.server.support.TestServer;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/** Keys never reach logs or responses after creation; admin endpoints are for admin keys only. */
class SecurityTest {

    @Test
    void keysAreNeverLoggedNorReturnedAfterCreation() {
        Logger root = (Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);
        ListAppender<ILoggingEvent> logs = new ListAppender<>();
        logs.start();
        root.addAppender(logs);
        try (TestServer s = TestServer.builder().fakeModel("stable-diffusion-1.5").fakeModel("explodes")
                .set("catalog.explodes.family", "sd15")
                .loader(p -> p.checkpoint().getFileName().toString().equals("explodes") ? new FakePipeline() {
                    @Override
                    public java.util.List<dev.easel.diffusion.image.RgbImage> generate(
                            dev.easel.diffusion.pipeline.GenerationRequest r, dev.easel.diffusion.pipeline.ProgressListener l) {
                        throw new IllegalStateException("failure while serving " + r.prompt());
                    }
                } : new FakePipeline()).start()) {
            Http http = new Http(s.baseUrl());
            String created = http.postJson("/v1/admin/keys", s.admin, Map.of("tier", "pro", "name", "logged?")).json().path("key").asText();
            List<String> secrets = List.of(s.admin, s.free, s.pro, s.premium, created);
            for (String key : secrets) {
                http.postJson("/v1/images/generations", key, Map.of("prompt", "x"));
                http.postJson("/v1/images/generations", key, Map.of("prompt", "x", "size", "1x1"));
                http.postJson("/v1/images/generations", key, Map.of("prompt", "x", "model", "explodes"));
                http.get("/v1/models", key);
                http.get("/v1/usage", key);
            }
            http.postJson("/v1/images/generations", created + "tampered", Map.of("prompt", "x"));
            http.postJson("/v1/images/generations", "sk-easel-" + created.substring(9, 20), Map.of("prompt", "x"));
            String listing = http.get("/v1/admin/keys", s.admin).text();
            http.delete("/v1/admin/keys/key_5", s.admin);
            for (String secret : secrets) assertThat(listing).doesNotContain(secret);
            assertThat(s.server.metrics().scrape()).doesNotContain("sk-easel-");
        } finally {
            root.detachAppender(logs);
        }
        assertThat(logs.list).isNotEmpty();
        for (ILoggingEvent e : logs.list) {
            String text = e.getFormattedMessage() + (e.getThrowableProxy() == null ? "" : ThrowableProxyUtil.asString(e.getThrowableProxy()));
            assertThat(text).doesNotContain("sk-easel-").doesNotContain("Bearer");
        }
    }

    @Test
    void onlyAdminKeysReachTheAdminEndpoints() {
        try (TestServer s = TestServer.builder().fakeModel("stable-diffusion-1.5").start()) {
            Http http = new Http(s.baseUrl());
            for (String key : List.of(s.free, s.pro, s.premium)) {
                assertThat(http.get("/v1/admin/keys", key).status()).isEqualTo(403);
                assertThat(http.postJson("/v1/admin/keys", key, Map.of("tier", "premium", "name", "escalate")).status()).isEqualTo(403);
                assertThat(http.delete("/v1/admin/keys/key_1", key).status()).isEqualTo(403);
                assertThat(http.get("/v1/admin/keys/key_1/usage", key).status()).isEqualTo(403);
            }
            assertThat(s.server.keys().list()).noneMatch(k -> k.name().equals("escalate"));
            assertThat(s.server.keys().find("key_1").orElseThrow().active()).isTrue();
            assertThat(http.get("/v1/admin/keys", s.admin).status()).isEqualTo(200);
        }
    }

    @Test
    void theFirstStartMakesOneAdminKeyAndLaterStartsNone() {
        java.nio.file.Path data;
        try (TestServer s = TestServer.builder().fakeModel("stable-diffusion-1.5").start()) {
            assertThat(s.server.initialAdminSecret()).isPresent();
            data = s.config.dataDir();
        }
        var config = new dev.easel.server.config.ConfigLoader().load(java.util.Optional.empty(), Map.of(),
                Map.of("data-dir", data.toString(), "port", "0", "host", "127.0.0.1"));
        EaselServer again = EaselServer.start(config, p -> new FakePipeline());
        try {
            assertThat(again.initialAdminSecret()).isEmpty();
        } finally {
            again.shutdown(java.time.Duration.ofSeconds(5));
        }
    }
}
