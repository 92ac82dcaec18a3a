package dev.easel.server.api;

import com.fasterxml.jackson.databind.JsonNode;
import dev.easel.server.support.GatedPipeline;
import dev.easel.server.support.Http;
import dev.easel.server.support.PromptGates;
import dev.easel.server.support.TestDatabases;
import dev.easel.server.support.TestServer;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/** Three nodes on loopback sharing one (embedded) PostgreSQL: keys, limits and job records hold across them. */
class MultiNodeTest {

    static TestServer node(String url, String name, Map<String, String> settings, PromptGates gates) {
        TestServer.Builder b = TestServer.builder().fakeModel("stable-diffusion-1.5")
                .set("database.url", url).set("jobs.node", name);
        settings.forEach(b::set);
        b.loader(gates.loader(name));
        return b.start();
    }

    @Test
    void aKeyMadeOnOneNodeWorksOnTheOthersAndItsLimitsHoldAcrossThem() throws Exception {
        String url = TestDatabases.newPostgresUrl();
        Map<String, String> limits = Map.of("tiers.free.requests-per-minute", "3", "tiers.free.concurrent-jobs", "1");
        // jobs run on whichever node claims them: held by prompt, wherever they run
        PromptGates gates = new PromptGates();
        GatedPipeline.Gate gate = gates.hold("on c");
        GatedPipeline.Gate behind = gates.hold("queued behind");
        try (TestServer a = node(url, "node-a", limits, gates);
             TestServer b = node(url, "node-b", limits, gates);
             TestServer c = node(url, "node-c", limits, gates)) {
            Http ha = new Http(a.baseUrl());
            Http hb = new Http(b.baseUrl());
            Http hc = new Http(c.baseUrl());
            assertThat(a.admin).isNotNull();
            assertThat(b.admin).as("one admin key for the service").isNull();

            Http.Response made = ha.postJson("/v1/admin/keys", a.admin, Map.of("tier", "free", "name", "shared"));
            assertThat(made.status()).as(made.text()).isEqualTo(201);
            String key = made.json().path("key").asText();
            assertThat(hb.postJson("/v1/images/generations", key, Map.of("prompt", "on b")).status()).isEqualTo(200);
            assertThat(ha.postJson("/v1/images/generations", key, Map.of("prompt", "on a")).status()).isEqualTo(200);
            // the third request of the minute holds the key's one concurrent place (accepted on node C)
            String held = hc.postJson("/v1/images/jobs", key, Map.of("prompt", "on c")).json().path("id").asText();
            gate.awaitReached();
            Http.Response fourth = hb.postJson("/v1/images/generations", key, Map.of("prompt", "too many"));
            assertThat(fourth.status()).isEqualTo(429);
            assertThat(fourth.json().path("error").path("code").asText()).isEqualTo("rate_limit_exceeded");
            assertThat(Long.parseLong(fourth.header("retry-after"))).isBetween(1L, 60L);

            // concurrency: another key's budget is untouched, and the free key's place is taken on every node
            Http.Response other = ha.postJson("/v1/admin/keys", a.admin, Map.of("tier", "free", "name", "second"));
            String key2 = other.json().path("key").asText();
            // held wherever it runs, so it holds key2's one place
            Http.Response second = hc.postJson("/v1/images/jobs", key2, Map.of("prompt", "queued behind"));
            assertThat(second.status()).isEqualTo(202);
            behind.awaitReached();
            Http.Response third = ha.postJson("/v1/images/jobs", key2, Map.of("prompt", "one too many"));
            assertThat(third.status()).as(third.text()).isEqualTo(429);
            assertThat(third.json().path("error").path("code").asText()).isEqualTo("concurrency_limit_exceeded");

            // the job record is the same on every node
            for (Http h : List.of(ha, hb)) {
                JsonNode job = h.get("/v1/images/jobs/" + held, key).json();
                assertThat(job.path("status").asText()).isEqualTo("running");
            }
            gate.open();
            behind.open();
            JsonNode done = AsyncJobsTest.awaitEnd(ha, key, held);
            assertThat(done.path("status").asText()).isEqualTo("succeeded");
            assertThat(done.path("result").path("data")).hasSize(1);
            assertThat(AsyncJobsTest.awaitEnd(hb, key2, second.json().path("id").asText()).path("status").asText()).isEqualTo("succeeded");
            assertThat(hb.postJson("/v1/images/jobs", key2, Map.of("prompt", "free again")).status())
                    .as("the place freed on every node once the job ended").isEqualTo(202);
            assertThat(hb.get("/v1/images/jobs", key).json().path("data")).hasSize(3);

            for (TestServer s : List.of(a, b, c)) {
                Http.Response ready = new Http(s.baseUrl()).get("/health/ready", null);
                assertThat(ready.status()).isEqualTo(200);
                assertThat(ready.json().path("ready").asBoolean()).isTrue();
                assertThat(ready.json().path("database").asText()).isEqualTo("ok");
            }
            assertThat(Stream.of("node-a", "node-b", "node-c")).contains(hb.get("/health/ready", null).json().path("node").asText());
        }
    }
}
