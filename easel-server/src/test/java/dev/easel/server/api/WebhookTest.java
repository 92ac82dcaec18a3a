package dev.easel.server.api;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import com.fasterxml.jackson.databind.JsonNode;
import com.sun.net.httpserver.HttpServer;
import dev.easel.server.support.FakePipeline;
import dev.easel.server.support.GatedPipeline;
import dev.easel.server.support.Http;
import dev.easel.server.support.TestServer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Webhooks, against a receiver the test runs on loopback (allowed explicitly by webhooks.allowed-networks):
 * Standard Webhooks signatures that verify, retries on 500, refused addresses, and no secret in the logs.
 */
class WebhookTest {
    record Received(Map<String, List<String>> headers, String body) {
        String header(String name) {
            return headers.entrySet().stream().filter(e -> e.getKey().equalsIgnoreCase(name))
                    .map(e -> e.getValue().getFirst()).findFirst().orElse(null);
        }
    }

    private HttpServer receiver;
    private final BlockingQueue<Received> received = new LinkedBlockingQueue<>();
    /** Status the receiver answers with, one per request; 200 once these run out. */
    private final BlockingQueue<Integer> answers = new LinkedBlockingQueue<>();
    private final AtomicInteger hits = new AtomicInteger();
    private final ListAppender<ILoggingEvent> logs = new ListAppender<>();

    @BeforeEach
    void start() throws IOException {
        receiver = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        receiver.createContext("/hook", ex -> {
            hits.incrementAndGet();
            received.add(new Received(Map.copyOf(ex.getRequestHeaders()), new String(ex.getRequestBody().readAllBytes(), StandardCharsets.UTF_8)));
            Integer status = answers.poll();
            ex.sendResponseHeaders(status == null ? 200 : status, -1);
            ex.close();
        });
        receiver.start();
        logs.start();
        ((Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME)).addAppender(logs);
    }

    @AfterEach
    void stop() {
        receiver.stop(0);
        ((Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME)).detachAppender(logs);
    }

    private String hookUrl() {
        return "http://127.0.0.1:" + receiver.getAddress().getPort() + "/hook";
    }

    private static TestServer.Builder server() {
        return TestServer.builder().fakeModel("stable-diffusion-1.5")
                .set("webhooks.allowed-networks", "127.0.0.0/8")
                .set("webhooks.initial-backoff-millis", "50");
    }

    /** Verifies a delivery the way a receiver would, with nothing of the server's code. */
    private static boolean verifies(String secret, Received r) throws Exception {
        byte[] key = Base64.getDecoder().decode(secret.substring("whsec_".length()));
        Mac mac = Mac.getInstance("HmacSHA256");
        mac.init(new SecretKeySpec(key, "HmacSHA256"));
        String signed = r.header("webhook-id") + "." + r.header("webhook-timestamp") + "." + r.body();
        String expected = "v1," + Base64.getEncoder().encodeToString(mac.doFinal(signed.getBytes(StandardCharsets.UTF_8)));
        return List.of(r.header("webhook-signature").split(" ")).contains(expected);
    }

    private static String newSecret(Http http, String key) {
        Http.Response r = http.postJson("/v1/webhook/secret", key, Map.of());
        assertThat(r.status()).as(r.text()).isEqualTo(201);
        assertThat(r.json().path("secret_set").asBoolean()).isTrue();
        return r.json().path("secret").asText();
    }

    @Test
    void aSucceededJobIsPostedSignedAndTheDeliveryRecorded() throws Exception {
        try (TestServer s = server().start()) {
            Http http = new Http(s.baseUrl());
            String secret = newSecret(http, s.pro);
            assertThat(secret).startsWith("whsec_");
            assertThat(http.get("/v1/webhook", s.pro).json().has("secret")).as("shown once").isFalse();
            Http.Response accepted = http.postJson("/v1/images/jobs", s.pro, Map.of("prompt", "hooked", "seed", 7, "webhook_url", hookUrl()));
            assertThat(accepted.status()).as(accepted.text()).isEqualTo(202);
            String id = accepted.json().path("id").asText();
            assertThat(accepted.json().path("webhook").path("status").asText()).isEqualTo("pending");

            Received r = received.poll(10, TimeUnit.SECONDS);
            assertThat(r).isNotNull();
            assertThat(r.header("webhook-id")).startsWith("msg_");
            assertThat(Math.abs(Long.parseLong(r.header("webhook-timestamp")) - System.currentTimeMillis() / 1000)).isLessThan(30);
            assertThat(verifies(secret, r)).as("signature verifies").isTrue();
            Received tampered = new Received(r.headers(), r.body().replace("hooked", "hacked"));
            assertThat(verifies(secret, tampered)).isFalse();
            JsonNode event = Http.JSON.readTree(r.body());
            assertThat(event.path("type").asText()).isEqualTo("image_job.succeeded");
            assertThat(event.path("data").path("id").asText()).isEqualTo(id);
            assertThat(event.path("data").path("status").asText()).isEqualTo("succeeded");
            assertThat(event.path("data").path("result").path("seed").asLong()).isEqualTo(7);

            JsonNode job = awaitWebhook(http, s.pro, id, "delivered");
            assertThat(job.path("webhook").path("attempts").asInt()).isOne();
            assertThat(job.path("webhook").path("last_response_status").asInt()).isEqualTo(200);
            assertNoSecretLogged(secret, r.header("webhook-signature"));
        }
    }

    @Test
    void aFailedDeliveryIsRetriedWithBackoffUnderTheSameMessageId() throws Exception {
        answers.addAll(List.of(500, 503));
        try (TestServer s = server().start()) {
            Http http = new Http(s.baseUrl());
            String secret = newSecret(http, s.pro);
            String id = http.postJson("/v1/images/jobs", s.pro, Map.of("prompt", "retry me", "webhook_url", hookUrl()))
                    .json().path("id").asText();
            JsonNode job = awaitWebhook(http, s.pro, id, "delivered");
            assertThat(job.path("webhook").path("attempts").asInt()).isEqualTo(3);
            assertThat(received).hasSize(3);
            List<Received> all = List.copyOf(received);
            assertThat(all).extracting(x -> x.header("webhook-id")).containsOnly(all.getFirst().header("webhook-id"));
            for (Received r : all) assertThat(verifies(secret, r)).isTrue();
        }
    }

    @Test
    void deliveryStopsAfterMaxAttemptsAndIsRecordedAsFailed() throws Exception {
        answers.addAll(List.of(500, 500, 500, 500, 500));
        try (TestServer s = server().set("webhooks.max-attempts", "2").start()) {
            Http http = new Http(s.baseUrl());
            newSecret(http, s.pro);
            String id = http.postJson("/v1/images/jobs", s.pro, Map.of("prompt", "never", "webhook_url", hookUrl()))
                    .json().path("id").asText();
            JsonNode job = awaitWebhook(http, s.pro, id, "failed");
            assertThat(job.path("webhook").path("attempts").asInt()).isEqualTo(2);
            assertThat(job.path("webhook").path("last_response_status").asInt()).isEqualTo(500);
            Thread.sleep(300);
            assertThat(hits.get()).isEqualTo(2);
        }
    }

    @Test
    void privateLoopbackAndLinkLocalTargetsAreRefusedUnlessAllowed() throws Exception {
        try (TestServer s = TestServer.builder().fakeModel("stable-diffusion-1.5").start()) {
            Http http = new Http(s.baseUrl());
            newSecret(http, s.pro);
            for (String url : List.of(hookUrl(), "http://localhost:9/x", "http://10.1.2.3/x", "http://192.168.0.1/x",
                    "http://169.254.169.254/latest/meta-data", "http://[::1]:9/x", "ftp://example.com/x", "not a url")) {
                Http.Response r = http.postJson("/v1/images/jobs", s.pro, Map.of("prompt", "x", "webhook_url", url));
                assertThat(r.status()).as(url + ": " + r.text()).isEqualTo(400);
                assertThat(r.json().path("error").path("code").asText()).isEqualTo("invalid_webhook_url");
            }
            Http.Response put = http.send(java.net.http.HttpRequest.newBuilder(java.net.URI.create(s.baseUrl() + "/v1/webhook"))
                    .header("Authorization", "Bearer " + s.pro).header("Content-Type", "application/json")
                    .PUT(java.net.http.HttpRequest.BodyPublishers.ofString("{\"url\":\"" + hookUrl() + "\"}")).build());
            assertThat(put.status()).isEqualTo(400);
            assertThat(http.get("/v1/images/jobs", s.pro).json().path("data")).isEmpty();
        }
        assertThat(hits.get()).as("nothing was sent to the refused address").isZero();
    }

    @Test
    void aKeysDefaultUrlIsUsedAndCancellationIsDeliveredToo() throws Exception {
        GatedPipeline gated = new GatedPipeline();
        GatedPipeline.Gate gate = gated.holdCall(0);
        try (TestServer s = server().loader(gated.loader(p -> new FakePipeline())).start()) {
            Http http = new Http(s.baseUrl());
            Http.Response noSecret = http.postJson("/v1/images/jobs", s.pro, Map.of("prompt", "x", "webhook_url", hookUrl()));
            assertThat(noSecret.status()).isEqualTo(400);
            assertThat(noSecret.json().path("error").path("code").asText()).isEqualTo("webhook_secret_missing");
            String secret = newSecret(http, s.pro);
            Http.Response put = http.send(java.net.http.HttpRequest.newBuilder(java.net.URI.create(s.baseUrl() + "/v1/webhook"))
                    .header("Authorization", "Bearer " + s.pro).header("Content-Type", "application/json")
                    .PUT(java.net.http.HttpRequest.BodyPublishers.ofString("{\"url\":\"" + hookUrl() + "\"}")).build());
            assertThat(put.status()).as(put.text()).isEqualTo(200);
            assertThat(put.json().path("url").asText()).isEqualTo(hookUrl());

            String first = http.postJson("/v1/images/jobs", s.pro, Map.of("prompt", "runs")).json().path("id").asText();
            gate.awaitReached();
            String second = http.postJson("/v1/images/jobs", s.pro, Map.of("prompt", "cancelled")).json().path("id").asText();
            assertThat(http.delete("/v1/images/jobs/" + second, s.pro).json().path("status").asText()).isEqualTo("cancelled");
            Received r = received.poll(10, TimeUnit.SECONDS);
            assertThat(r).isNotNull();
            JsonNode event = Http.JSON.readTree(r.body());
            assertThat(event.path("type").asText()).isEqualTo("image_job.cancelled");
            assertThat(event.path("data").path("id").asText()).isEqualTo(second);
            assertThat(verifies(secret, r)).isTrue();
            gate.open();
            Received done = received.poll(10, TimeUnit.SECONDS);
            assertThat(Http.JSON.readTree(done.body()).path("data").path("id").asText()).isEqualTo(first);
            assertNoSecretLogged(secret, r.header("webhook-signature"));
        }
    }

    private void assertNoSecretLogged(String secret, String signature) {
        String key = secret.substring("whsec_".length());
        String mac = signature.substring("v1,".length());
        for (ILoggingEvent e : logs.list) {
            String line = e.getFormattedMessage() + (e.getThrowableProxy() == null ? "" : e.getThrowableProxy().getMessage());
            assertThat(line).doesNotContain(key).doesNotContain(mac);
        }
        assertThat(logs.list).as("the test saw the server's logs").isNotEmpty();
    }

    private static JsonNode awaitWebhook(Http http, String key, String id, String state) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(15);
        while (true) {
            JsonNode job = http.get("/v1/images/jobs/" + id, key).json();
            if (state.equals(job.path("webhook").path("status").asText())) return job;
            if (System.nanoTime() > deadline) throw new AssertionError("webhook of " + id + ": " + job.path("webhook"));
            Thread.sleep(10);
        }
    }
}
