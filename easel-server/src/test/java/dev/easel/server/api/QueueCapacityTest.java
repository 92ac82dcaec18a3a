package dev.easel.server.api;

import dev.easel.server.support.GatedPipeline;
import dev.easel.server.support.Http;
import dev.easel.server.support.PromptGates;
import dev.easel.server.support.TestDatabases;
import dev.easel.server.support.TestServer;
import org.junit.jupiter.api.Test;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@code queue.capacity} bounds the waiting jobs, synchronous and async alike, and a full queue answers 503
 * server_busy with Retry-After at once: on one SQLite node (its device's queue), and on three nodes sharing one
 * PostgreSQL (the shared queue, counted in the database, exactly even when every node inserts at the same moment).
 */
class QueueCapacityTest {

    private static void assertBusy(Http.Response r) {
        assertThat(r.status()).as(r.text()).isEqualTo(503);
        assertThat(r.json().path("error").path("code").asText()).isEqualTo("server_busy");
        assertThat(Long.parseLong(r.header("retry-after"))).isBetween(1L, 300L);
    }

    private static int queuedRows(String url) throws Exception {
        try (Connection c = DriverManager.getConnection(url); Statement s = c.createStatement();
             ResultSet rs = s.executeQuery("SELECT COUNT(*) FROM jobs WHERE state = 'queued'")) {
            rs.next();
            return rs.getInt(1);
        }
    }

    @Test
    void onSqliteAFullQueueRefusesSynchronousAndAsyncJobsAlike() throws Exception {
        PromptGates gates = new PromptGates();
        GatedPipeline.Gate busy = gates.hold("busy");
        try (TestServer s = TestServer.builder().fakeModel("stable-diffusion-1.5").loader(gates.loader("solo"))
                .set("queue.capacity", "2").set("queue.max-batch-images", "1").start()) {
            Http http = new Http(s.baseUrl());
            assertThat(http.postJson("/v1/images/jobs", s.pro, Map.of("prompt", "busy")).status()).isEqualTo(202);
            busy.awaitReached();
            // the queue fills with one synchronous job and one async job
            CompletableFuture<Http.Response> sync = CompletableFuture.supplyAsync(() ->
                    http.postJson("/v1/images/generations", s.pro, Map.of("prompt", "sync waits")));
            LimitsAndQueueTest.waitUntil(() -> http.get("/health/ready", null).json().path("queue_length").asInt() == 1);
            assertThat(http.postJson("/v1/images/jobs", s.pro, Map.of("prompt", "async waits")).status()).isEqualTo(202);

            assertBusy(http.postJson("/v1/images/jobs", s.premium, Map.of("prompt", "async refused")));
            assertBusy(http.postJson("/v1/images/generations", s.premium, Map.of("prompt", "sync refused")));

            busy.open();
            assertThat(sync.get(20, TimeUnit.SECONDS).status()).isEqualTo(200);
            assertThat(gates.order()).doesNotContain("async refused", "sync refused");
        }
    }

    @Test
    void threeNodesShareOneBoundCountedInTheDatabase() throws Exception {
        String url = TestDatabases.newPostgresUrl();
        int capacity = 4;
        Map<String, String> settings = Map.of("queue.capacity", Integer.toString(capacity), "queue.max-batch-images", "1");
        PromptGates gates = new PromptGates();
        List<GatedPipeline.Gate> busy = List.of(gates.hold("busy 0"), gates.hold("busy 1"), gates.hold("busy 2"));
        try (TestServer a = MultiNodeTest.node(url, "node-a", settings, gates);
             TestServer b = MultiNodeTest.node(url, "node-b", settings, gates);
             TestServer c = MultiNodeTest.node(url, "node-c", settings, gates)) {
            List<Http> nodes = List.of(new Http(a.baseUrl()), new Http(b.baseUrl()), new Http(c.baseUrl()));
            for (int i = 0; i < 3; i++) {
                assertThat(nodes.get(i).postJson("/v1/images/jobs", a.pro, Map.of("prompt", "busy " + i)).status()).isEqualTo(202);
            }
            for (GatedPipeline.Gate g : busy) g.awaitReached(); // every device holds one; the queue is empty

            // one synchronous job waits (accepted on A): it takes one of the places
            CompletableFuture<Http.Response> sync = CompletableFuture.supplyAsync(() ->
                    nodes.get(0).postJson("/v1/images/generations", a.pro, Map.of("prompt", "sync waits")));
            LimitsAndQueueTest.waitUntil(() -> {
                try {
                    return queuedRows(url) == 1;
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            });

            // 30 async submissions at once, spread over the three nodes: exactly the places left are taken
            int burst = 30;
            List<Future<Http.Response>> answers = new ArrayList<>();
            try (ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor()) {
                for (int i = 0; i < burst; i++) {
                    Http on = nodes.get(i % 3);
                    Map<String, Object> body = Map.of("prompt", "burst " + i);
                    answers.add(pool.submit(() -> on.postJson("/v1/images/jobs", a.premium, body)));
                }
            }
            List<String> accepted = new ArrayList<>();
            int refused = 0;
            for (Future<Http.Response> f : answers) {
                Http.Response r = f.get(30, TimeUnit.SECONDS);
                if (r.status() == 202) {
                    accepted.add(r.json().path("id").asText());
                } else {
                    assertBusy(r);
                    refused++;
                }
            }
            assertThat(accepted).as("places left: the capacity less the waiting synchronous job").hasSize(capacity - 1);
            assertThat(refused).isEqualTo(burst - (capacity - 1));
            assertThat(queuedRows(url)).as("never more queued than the capacity").isEqualTo(capacity);

            // full: a synchronous call is refused the same way on every node, and so is an async one
            for (Http h : nodes) {
                assertBusy(h.postJson("/v1/images/generations", a.pro, Map.of("prompt", "sync refused")));
                assertBusy(h.postJson("/v1/images/jobs", a.pro, Map.of("prompt", "async refused")));
            }
            assertThat(queuedRows(url)).isEqualTo(capacity);

            for (GatedPipeline.Gate g : busy) g.open();
            assertThat(sync.get(30, TimeUnit.SECONDS).status()).isEqualTo(200);
            for (String id : accepted) {
                assertThat(AsyncJobsTest.awaitEnd(nodes.get(1), a.premium, id).path("status").asText()).isEqualTo("succeeded");
            }
            assertThat(gates.order()).doesNotContain("sync refused", "async refused");
            assertThat(nodes.get(2).postJson("/v1/images/jobs", a.pro, Map.of("prompt", "room again")).status())
                    .as("places free once the queue drains").isEqualTo(202);
        }
    }
}
