package dev.easel.server.api;

import com.fasterxml.jackson.databind.JsonNode;
import com.sun.net.httpserver.HttpServer;
import dev.easel.diffusion.pipeline.GenerationRequest;
import dev.easel.server.support.GatedPipeline;
import dev.easel.server.support.Http;
import dev.easel.server.support.NodeProcess;
import dev.easel.server.support.PromptGates;
import dev.easel.server.support.TestDatabases;
import dev.easel.server.support.TestImages;
import dev.easel.server.support.TestServer;
import org.junit.jupiter.api.Test;

import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * One queue for three nodes on loopback sharing one (embedded) PostgreSQL: whichever node's device is free claims the
 * next job (premium first, then arrival), batches with what waits, answers the synchronous caller on the node that
 * accepted it, takes over the jobs of a node that was killed, and stops a job running elsewhere when it is cancelled.
 */
class SharedQueueTest {
    private static final Map<String, String> ONE_BY_ONE = Map.of("queue.max-batch-images", "1");

    private static TestServer node(String url, String name, PromptGates gates, Map<String, String> settings) {
        return MultiNodeTest.node(url, name, settings, gates);
    }

    /** Submits an async job and returns its id. */
    private static String submit(Http http, String key, Map<String, Object> body) {
        Http.Response r = http.postJson("/v1/images/jobs", key, body);
        assertThat(r.status()).as(r.text()).isEqualTo(202);
        return r.json().path("id").asText();
    }

    /** One column of one job's row, read straight from the database. */
    private static String column(String url, String id, String column) throws Exception {
        try (Connection c = DriverManager.getConnection(url);
             PreparedStatement ps = c.prepareStatement("SELECT " + column + " FROM jobs WHERE id = ?")) {
            ps.setString(1, id);
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next() ? rs.getString(1) : null;
            }
        }
    }

    /** The id of the newest job whose prompt is {@code prompt}. */
    private static String jobWithPrompt(String url, String prompt) throws Exception {
        try (Connection c = DriverManager.getConnection(url);
             PreparedStatement ps = c.prepareStatement("SELECT id, params FROM jobs ORDER BY created_at DESC")) {
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    if (Http.JSON.readTree(rs.getString(2)).path("prompt").asText().equals(prompt)) return rs.getString(1);
                }
            }
        }
        return null;
    }

    private static void awaitColumn(String url, String id, String column, String value) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (!value.equals(column(url, id, column))) {
            if (System.nanoTime() > deadline) throw new AssertionError(id + " " + column + " is " + column(url, id, column) + ", not " + value);
            Thread.sleep(20);
        }
    }

    @Test
    void premiumJobsOvertakeFreeOnesAcrossNodesAndABatchIsMadeFromTheClaimedSet() throws Exception {
        String url = TestDatabases.newPostgresUrl();
        PromptGates gates = new PromptGates();
        List<GatedPipeline.Gate> busy = List.of(gates.hold("busy 0"), gates.hold("busy 1"), gates.hold("busy 2"));
        try (TestServer a = node(url, "node-a", gates, ONE_BY_ONE);
             TestServer b = node(url, "node-b", gates, ONE_BY_ONE);
             TestServer c = node(url, "node-c", gates, ONE_BY_ONE)) {
            Http ha = new Http(a.baseUrl());
            Http hb = new Http(b.baseUrl());
            Http hc = new Http(c.baseUrl());
            // every device busy: each node claimed one of these, wherever they were sent
            for (int i = 0; i < 3; i++) submit(ha, a.free, Map.of("prompt", "busy " + i));
            for (GatedPipeline.Gate g : busy) g.awaitReached();
            assertThat(Set.of(gates.ranOn("busy 0"), gates.ranOn("busy 1"), gates.ranOn("busy 2")))
                    .containsExactlyInAnyOrder("node-a", "node-b", "node-c");

            String free1 = submit(ha, a.free, Map.of("prompt", "free first"));
            Thread.sleep(5);
            String premium = submit(hb, b.premium, Map.of("prompt", "premium later"));
            Thread.sleep(5);
            String free2 = submit(hc, c.free, Map.of("prompt", "free last"));
            assertThat(hc.get("/v1/images/jobs/" + free1, a.free).json().path("queue_position").asInt())
                    .as("the premium job is ahead of the earlier free one, on every node").isEqualTo(1);

            // one device frees up: it takes the premium job (accepted on B) before the free one accepted earlier on A
            busy.get(0).open();
            Map<String, String> owners = Map.of(premium, b.premium, free1, a.free, free2, c.free);
            for (var e : owners.entrySet()) {
                assertThat(AsyncJobsTest.awaitEnd(ha, e.getValue(), e.getKey()).path("status").asText()).isEqualTo("succeeded");
            }
            String freed = gates.ranOn("busy 0");
            assertThat(gates.order().subList(3, 6)).containsExactly("premium later", "free first", "free last");
            assertThat(gates.ranOn("premium later")).isEqualTo(freed);
            busy.get(1).open();
            busy.get(2).open();
        }
    }

    @Test
    void aFreeDeviceBatchesTheCompatibleJobsOfEveryNode() throws Exception {
        String url = TestDatabases.newPostgresUrl();
        PromptGates gates = new PromptGates();
        GatedPipeline.Gate busyA = gates.hold("busy a");
        try (TestServer a = node(url, "node-a", gates, Map.of())) {
            Http ha = new Http(a.baseUrl());
            submit(ha, a.pro, Map.of("prompt", "busy a", "size", "32x32"));
            busyA.awaitReached();
            try (TestServer b = node(url, "node-b", gates, Map.of())) {
                Http hb = new Http(b.baseUrl());
                GatedPipeline.Gate busyB = gates.hold("busy b");
                submit(hb, b.pro, Map.of("prompt", "busy b", "size", "32x32"));
                busyB.awaitReached();
                // three compatible jobs from two nodes, and one of another size, wait for a device
                Map<String, String> owners = new HashMap<>();
                owners.put(submit(ha, a.pro, Map.of("prompt", "one", "seed", 1)), a.pro);
                owners.put(submit(hb, b.pro, Map.of("prompt", "two", "seed", 2)), b.pro);
                owners.put(submit(ha, a.pro, Map.of("prompt", "other size", "size", "32x32")), a.pro);
                owners.put(submit(hb, b.pro, Map.of("prompt", "three", "seed", 3)), b.pro);
                busyA.open();
                for (var e : owners.entrySet()) {
                    JsonNode done = AsyncJobsTest.awaitEnd(ha, e.getValue(), e.getKey());
                    assertThat(done.path("status").asText()).isEqualTo("succeeded");
                }
                assertThat(gates.order()).contains("one+two+three", "other size");
                busyB.open();
            }
        }
    }

    @Test
    void aSynchronousCallerIsAnsweredWhenAnotherNodeRanItsJob() throws Exception {
        String url = TestDatabases.newPostgresUrl();
        PromptGates gates = new PromptGates();
        GatedPipeline.Gate busy = gates.hold("keeps a busy");
        try (TestServer a = node(url, "node-a", gates, Map.of())) {
            Http ha = new Http(a.baseUrl());
            submit(ha, a.pro, Map.of("prompt", "keeps a busy"));
            busy.awaitReached();
            try (TestServer b = node(url, "node-b", gates, Map.of())) {
                Http hb = new Http(b.baseUrl());
                try {
                    remoteCalls(url, gates, ha, a, hb, b);
                } finally {
                    busy.open();
                }
            }
        }
    }

    private static void remoteCalls(String url, PromptGates gates, Http ha, TestServer a, Http hb, TestServer b) throws Exception {
        {
            {
                // the same request on A (run by B) and on B (run by B) gives the same body
                Http.Response viaA = ha.postJson("/v1/images/generations", a.pro, Map.of("prompt", "remote", "seed", 5));
                assertThat(viaA.status()).as(viaA.text()).isEqualTo(200);
                assertThat(gates.ranOn("remote")).isEqualTo("node-b");
                Http.Response onB = hb.postJson("/v1/images/generations", b.pro, Map.of("prompt", "remote", "seed", 5));
                assertThat(viaA.json().path("data").get(0).path("b64_json").asText())
                        .isEqualTo(onB.json().path("data").get(0).path("b64_json").asText());
                String id = jobWithPrompt(url, "remote");
                assertThat(column(url, id, "result_location")).as("handed-over images are not kept").isIn("response");

                // an edit's input image travels with its record
                byte[] png = TestImages.png(64, 64, 0x336699);
                Http.Response edit = ha.postMultipart("/v1/images/edits", a.pro, new Http.Multipart()
                        .file("image", "in.png", "image/png", png).text("prompt", "remote edit").text("strength", "0.5"));
                assertThat(edit.status()).as(edit.text()).isEqualTo(200);
                assertThat(gates.ranOn("remote edit")).isEqualTo("node-b");
                GenerationRequest ran = gates.calls.stream().filter(cl -> cl.prompts().contains("remote edit")).findFirst()
                        .orElseThrow().requests().getFirst();
                assertThat(ran.initImage()).isPresent();
                Http.Response editOnB = hb.postMultipart("/v1/images/edits", b.pro, new Http.Multipart()
                        .file("image", "in.png", "image/png", png).text("prompt", "local edit").text("strength", "0.5"));
                assertThat(editOnB.status()).as(editOnB.text()).isEqualTo(200);
                GenerationRequest ranLocally = gates.calls.stream().filter(cl -> cl.prompts().contains("local edit")).findFirst()
                        .orElseThrow().requests().getFirst();
                assertThat(ran.initImage().get().pixels()).as("the input image, exactly as decoded where it was sent")
                        .containsExactly(ranLocally.initImage().get().pixels());

                // streamed: at least the final images
                Map<String, Object> streamed = new HashMap<>(Map.of("prompt", "remote stream", "stream", true, "partial_images", 2));
                Http.Response stream = ha.postJson("/v1/images/generations", a.pro, streamed);
                assertThat(stream.text()).contains("event: image_generation.completed");
                assertThat(gates.ranOn("remote stream")).isEqualTo("node-b");

                // the added latency of the hand-over: median of sync calls answered by A (run on B) minus run on B itself
                int runs = 15;
                List<Long> remote = new ArrayList<>();
                List<Long> local = new ArrayList<>();
                for (int i = 0; i < runs; i++) {
                    remote.add(timed(ha, a.pro, "latency a " + i));
                    local.add(timed(hb, b.pro, "latency b " + i));
                }
                for (int i = 0; i < runs; i++) assertThat(gates.ranOn("latency a " + i)).isEqualTo("node-b");
                long added = median(remote) - median(local);
                String report = String.format(Locale.ROOT, "sync call answered by the accepting node, run by another: median %d ms;"
                        + " run where accepted: median %d ms; added %d ms (%d runs each, instant fake pipeline)%n",
                        median(remote), median(local), added, runs);
                System.out.print(report);
                Files.createDirectories(Path.of("target"));
                Files.writeString(Path.of("target/claim-latency.txt"), report);
                assertThat(added).as("LISTEN/NOTIFY answers well under the polling interval").isLessThan(400);
            }
        }
    }

    private static long timed(Http http, String key, String prompt) {
        long t0 = System.nanoTime();
        Http.Response r = http.postJson("/v1/images/generations", key, Map.of("prompt", prompt));
        assertThat(r.status()).as(r.text()).isEqualTo(200);
        return (System.nanoTime() - t0) / 1_000_000;
    }

    private static long median(List<Long> values) {
        List<Long> sorted = new ArrayList<>(values);
        Collections.sort(sorted);
        return sorted.get(sorted.size() / 2);
    }

    @Test
    void aKilledNodesJobIsRunAgainByAnotherAndItsCallerAnsweredOnce() throws Exception {
        String url = TestDatabases.newPostgresUrl();
        PromptGates gates = new PromptGates();
        GatedPipeline.Gate busy = gates.hold("keeps a busy");
        Map<String, String> shortLease = Map.of("jobs.lease-seconds", "2");
        try (TestServer a = node(url, "node-a", gates, shortLease)) {
            Http ha = new Http(a.baseUrl());
            submit(ha, a.pro, Map.of("prompt", "keeps a busy"));
            busy.awaitReached();
            // node C, a process of its own whose steps take a minute, takes the next job: A's synchronous caller's
            try (NodeProcess c = NodeProcess.start(url, "node-c", 60_000, "jobs.lease-seconds=2")) {
                CompletableFuture<Http.Response> caller = CompletableFuture.supplyAsync(() ->
                        ha.postJson("/v1/images/generations", a.pro, Map.of("prompt", "survives", "seed", 9)));
                String asyncId = null;
                String id = null;
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
                while (id == null && System.nanoTime() < deadline) {
                    id = jobWithPrompt(url, "survives");
                    Thread.sleep(20);
                }
                assertThat(id).isNotNull();
                awaitColumn(url, id, "node", "node-c");
                asyncId = submit(ha, a.pro, Map.of("prompt", "async survives")); // waits behind it, for C's device
                c.kill();

                // B arrives; C's leases run out; B runs both jobs again; A answers its caller
                try (TestServer b = node(url, "node-b", gates, shortLease)) {
                    Http.Response answer = caller.get(30, TimeUnit.SECONDS);
                    assertThat(answer.status()).as(answer.text()).isEqualTo(200);
                    assertThat(answer.json().path("seed").asLong()).isEqualTo(9);
                    assertThat(column(url, id, "state")).isEqualTo("succeeded");
                    assertThat(column(url, id, "node")).isEqualTo("node-b");
                    assertThat(column(url, id, "attempt")).as("claimed by C, then by B").isEqualTo("2");
                    assertThat(gates.ranOn("survives")).isEqualTo("node-b");
                    JsonNode async = AsyncJobsTest.awaitEnd(new Http(b.baseUrl()), a.pro, asyncId);
                    assertThat(async.path("status").asText()).isEqualTo("succeeded");
                    assertThat(async.path("result").path("data")).hasSize(1);
                    assertThat(gates.calls.stream().filter(cl -> cl.prompts().contains("survives")).count())
                            .as("run once on a live node").isEqualTo(1);
                }
            }
            busy.open();
        }
    }

    @Test
    void theSynchronousJobsOfAKilledAcceptorAreCancelledNotRunWhileItsAsyncJobsRun() throws Exception {
        String url = TestDatabases.newPostgresUrl();
        PromptGates gates = new PromptGates();
        GatedPipeline.Gate busyB = gates.hold("keeps b busy");
        GatedPipeline.Gate remote = gates.hold("remote orphan");
        Map<String, String> settings = Map.of("jobs.lease-seconds", "2", "queue.max-batch-images", "1");
        try (TestServer b = node(url, "node-b", gates, settings)) {
            Http hb = new Http(b.baseUrl());
            submit(hb, b.pro, Map.of("prompt", "keeps b busy"));
            busyB.awaitReached();
            // node A, a process of its own whose steps take a minute, accepts every job below
            try (NodeProcess a = NodeProcess.start(url, "node-a", 60_000, "jobs.lease-seconds=2", "queue.max-batch-images=1")) {
                Http ha = new Http(a.baseUrl());
                String busyA = submit(ha, b.pro, Map.of("prompt", "keeps a busy"));
                awaitColumn(url, busyA, "node", "node-a");
                // two synchronous callers wait on A; an async job too
                for (String prompt : List.of("remote orphan", "queued orphan")) {
                    CompletableFuture.runAsync(() -> ha.postJson("/v1/images/generations", b.pro, Map.of("prompt", prompt)));
                    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
                    while (jobWithPrompt(url, prompt) == null && System.nanoTime() < deadline) Thread.sleep(20);
                }
                String remoteId = jobWithPrompt(url, "remote orphan");
                String queuedId = jobWithPrompt(url, "queued orphan");
                String asyncId = submit(ha, b.pro, Map.of("prompt", "async survives"));
                // B frees up and takes the oldest: A's first synchronous job, held at its first step
                busyB.open();
                remote.awaitReached();
                assertThat(column(url, remoteId, "node")).isEqualTo("node-b");
                assertThat(column(url, queuedId, "state")).isEqualTo("queued");

                a.kill();
                // A's heartbeat runs out: both of its synchronous jobs are cancelled, the queued one without running
                awaitColumn(url, queuedId, "state", "cancelled");
                awaitColumn(url, remoteId, "state", "cancelled");
                for (String id : List.of(remoteId, queuedId)) {
                    JsonNode error = Http.JSON.readTree(column(url, id, "error")).path("error");
                    assertThat(error.path("code").asText()).isEqualTo("cancelled");
                    assertThat(error.path("message").asText()).contains("the node that accepted it stopped");
                }
                assertThat(column(url, asyncId, "state")).as("async jobs are never dropped").isEqualTo("queued");

                // B's running copy stops at its next step; B then runs the async jobs: A's orphaned one and the queued one
                remote.open();
                for (String id : List.of(busyA, asyncId)) {
                    JsonNode done = AsyncJobsTest.awaitEnd(hb, b.pro, id);
                    assertThat(done.path("status").asText()).as(id).isEqualTo("succeeded");
                }
                assertThat(gates.ranOn("queued orphan")).as("never run: nobody waits for it").isNull();
                assertThat(column(url, remoteId, "state")).as("its runner did not end it again").isEqualTo("cancelled");
                assertThat(column(url, remoteId, "result_location")).as("no images handed over").isNull();
            }
        }
    }

    @Test
    void aJobRunningOnOneNodeIsCancelledFromAnother() throws Exception {
        String url = TestDatabases.newPostgresUrl();
        PromptGates gates = new PromptGates();
        GatedPipeline.Gate held = gates.hold("cancel me");
        try (TestServer a = node(url, "node-a", gates, Map.of());
             TestServer b = node(url, "node-b", gates, Map.of())) {
            Http ha = new Http(a.baseUrl());
            Http hb = new Http(b.baseUrl());
            String id = submit(ha, a.free, Map.of("prompt", "cancel me"));
            held.awaitReached();
            // DELETE on the node that does not run it
            Http other = "node-a".equals(gates.ranOn("cancel me")) ? hb : ha;
            CompletableFuture<Http.Response> cancel = CompletableFuture.supplyAsync(() -> other.delete("/v1/images/jobs/" + id, a.free));
            Thread.sleep(200);
            held.open();
            JsonNode r = cancel.get(10, TimeUnit.SECONDS).json();
            assertThat(r.path("status").asText()).isEqualTo("cancelled");
            assertThat(r.path("error").path("code").asText()).isEqualTo("cancelled");
            assertThat(r.path("progress").path("step").asInt()).as("stopped at its next step").isLessThan(4);
            assertThat(column(url, id, "cancel_requested")).isEqualTo("1");
        }
    }

    @Test
    void asyncJobsAndTheirWebhooksWorkWhicheverNodeTakesThem() throws Exception {
        BlockingQueue<WebhookTest.Received> received = new LinkedBlockingQueue<>();
        HttpServer receiver = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        receiver.createContext("/hook", ex -> {
            received.add(new WebhookTest.Received(Map.copyOf(ex.getRequestHeaders()),
                    new String(ex.getRequestBody().readAllBytes(), StandardCharsets.UTF_8)));
            ex.sendResponseHeaders(200, -1);
            ex.close();
        });
        receiver.start();
        String url = TestDatabases.newPostgresUrl();
        PromptGates gates = new PromptGates();
        Map<String, String> hooks = Map.of("webhooks.allowed-networks", "127.0.0.0/8");
        try (TestServer a = node(url, "node-a", gates, hooks);
             TestServer b = node(url, "node-b", gates, hooks);
             TestServer c = node(url, "node-c", gates, hooks)) {
            Http ha = new Http(a.baseUrl());
            String secret = ha.postJson("/v1/webhook/secret", a.pro, Map.of()).json().path("secret").asText();
            String hook = "http://127.0.0.1:" + receiver.getAddress().getPort() + "/hook";
            List<String> ids = new ArrayList<>();
            for (int i = 0; i < 9; i++) {
                Http on = new Http(List.of(a, b, c).get(i % 3).baseUrl());
                ids.add(submit(on, a.pro, Map.of("prompt", "hooked " + i, "webhook_url", hook, "response_format", i % 2 == 0 ? "url" : "b64_json")));
            }
            Set<String> delivered = new HashSet<>();
            for (int i = 0; i < 9; i++) {
                WebhookTest.Received r = received.poll(20, TimeUnit.SECONDS);
                assertThat(r).as("webhook " + i).isNotNull();
                assertThat(verifies(secret, r)).isTrue();
                JsonNode event = Http.JSON.readTree(r.body());
                assertThat(event.path("type").asText()).isEqualTo("image_job.succeeded");
                assertThat(event.path("data").path("result").path("data")).hasSize(1);
                assertThat(delivered.add(event.path("data").path("id").asText())).as("delivered once").isTrue();
            }
            assertThat(delivered).containsExactlyInAnyOrderElementsOf(ids);
            assertThat(received.poll(300, TimeUnit.MILLISECONDS)).as("no second delivery").isNull();
            for (int i = 0; i < 9; i++) {
                Http reader = new Http(List.of(c, a, b).get(i % 3).baseUrl());
                JsonNode job = AsyncJobsTest.awaitEnd(reader, a.pro, ids.get(i));
                assertThat(job.path("webhook").path("status").asText()).isEqualTo("delivered");
                if (i % 2 == 0) {
                    String link = job.path("result").path("data").get(0).path("url").asText();
                    assertThat(link).startsWith(List.of(a, b, c).get(i % 3).baseUrl() + "/files/images/");
                }
            }
        } finally {
            receiver.stop(0);
        }
    }

    private static boolean verifies(String secret, WebhookTest.Received r) throws Exception {
        Mac mac = Mac.getInstance("HmacSHA256");
        mac.init(new SecretKeySpec(Base64.getDecoder().decode(secret.substring("whsec_".length())), "HmacSHA256"));
        String signed = r.header("webhook-id") + "." + r.header("webhook-timestamp") + "." + r.body();
        return List.of(r.header("webhook-signature").split(" "))
                .contains("v1," + Base64.getEncoder().encodeToString(mac.doFinal(signed.getBytes(StandardCharsets.UTF_8))));
    }
}
