package dev.easel.server.api;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.easel.server.support.GatedPipeline;
import dev.easel.server.support.Http;
import dev.easel.server.support.PromptGates;
import dev.easel.server.support.TestDatabases;
import dev.easel.server.support.TestServer;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
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
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * What a job leaves for its client when another node ran it, on three nodes on loopback sharing one (embedded)
 * PostgreSQL: the streamed previews (the same events, in the same order, with the same bytes as when the accepting
 * node runs the job itself), and {@code response_format=url} images, which any node serves until their TTL.
 *
 * <p>Nodes A and C are kept busy by held jobs, so node B, the only free device, runs every other job, whichever
 * node accepted it.
 */
class CrossNodeResultsTest {
    private static final Map<String, String> EIGHT_STEPS = Map.of("catalog.stable-diffusion-1.5.steps", "8");

    /** One server-sent event and when the client read its data line ({@link System#nanoTime}). */
    record Event(String name, JsonNode data, long readNanos) {
    }

    /** Three nodes of which only B's device is free (A and C hold {@code busyA} and {@code busyC}). */
    private record Nodes(TestServer a, TestServer b, TestServer c, GatedPipeline.Gate busyA, GatedPipeline.Gate busyC)
            implements AutoCloseable {
        @Override
        public void close() {
            busyA.open();
            busyC.open();
            for (TestServer s : List.of(b, c, a)) s.close();
        }
    }

    private static Nodes nodesWithOnlyBFree(String url, PromptGates gates, Map<String, String> settings) throws Exception {
        GatedPipeline.Gate busyA = gates.hold("keeps a busy");
        GatedPipeline.Gate busyC = gates.hold("keeps c busy");
        TestServer a = MultiNodeTest.node(url, "node-a", settings, gates);
        submit(new Http(a.baseUrl()), a.pro, Map.of("prompt", "keeps a busy"));
        busyA.awaitReached();
        TestServer c = MultiNodeTest.node(url, "node-c", settings, gates);
        submit(new Http(c.baseUrl()), c.pro, Map.of("prompt", "keeps c busy"));
        busyC.awaitReached();
        assertThat(gates.ranOn("keeps c busy")).isEqualTo("node-c");
        TestServer b = MultiNodeTest.node(url, "node-b", settings, gates);
        return new Nodes(a, b, c, busyA, busyC);
    }

    private static String submit(Http http, String key, Map<String, Object> body) {
        Http.Response r = http.postJson("/v1/images/jobs", key, body);
        assertThat(r.status()).as(r.text()).isEqualTo(202);
        return r.json().path("id").asText();
    }

    @Test
    void previewsOfAJobRunElsewhereStreamAsIfItRanWhereItWasAccepted() throws Exception {
        String url = TestDatabases.newPostgresUrl();
        PromptGates gates = new PromptGates();
        gates.stepMillis = 20;
        try (Nodes n = nodesWithOnlyBFree(url, gates, EIGHT_STEPS)) {
            for (Map<String, Object> asked : List.<Map<String, Object>>of(
                    Map.of("n", 2, "partial_images", 3, "seed", 11),
                    Map.of("n", 1, "partial_images", 2, "seed", 12, "output_format", "jpeg", "output_compression", 60))) {
                Map<String, Object> remoteBody = new HashMap<>(asked);
                remoteBody.putAll(Map.of("prompt", "remote stream " + asked.get("seed"), "stream", true));
                Map<String, Object> localBody = new HashMap<>(asked);
                localBody.putAll(Map.of("prompt", "local stream " + asked.get("seed"), "stream", true));

                List<Event> remote = stream(n.a().baseUrl(), n.a().pro, remoteBody);
                List<Event> local = stream(n.b().baseUrl(), n.b().pro, localBody);
                assertThat(gates.ranOn("remote stream " + asked.get("seed"))).as("accepted on A, run on B").isEqualTo("node-b");
                assertThat(gates.ranOn("local stream " + asked.get("seed"))).as("accepted and run on B").isEqualTo("node-b");

                int images = (Integer) asked.get("n");
                int partials = (Integer) asked.get("partial_images");
                assertThat(local).extracting(Event::name).filteredOn(e -> e.endsWith("partial_image")).hasSize(images * partials);
                assertThat(remote).extracting(Event::name).containsExactlyElementsOf(local.stream().map(Event::name).toList());
                assertThat(remote.getLast().name()).isEqualTo("image_generation.completed");
                for (int i = 0; i < local.size(); i++) {
                    assertThat(comparable(remote.get(i).data())).as("event " + i + " (" + local.get(i).name() + ")")
                            .isEqualTo(comparable(local.get(i).data()));
                }
                assertThat(previewRows(url, "remote stream " + asked.get("seed"))).as("preview rows deleted once sent").isZero();
            }
        }
    }

    /** An event's data without what differs between two runs of the same job: the clock and the compute time. */
    private static JsonNode comparable(JsonNode data) {
        ObjectNode o = data.deepCopy();
        o.remove("created_at");
        if (o.path("usage") instanceof ObjectNode usage) usage.remove("compute_seconds");
        return o;
    }

    /**
     * The added latency of a streamed preview: from the moment the pipeline made it (on B) to the moment the client read
     * its event, when A accepted the call against when B did.
     */
    @Test
    void aPreviewMadeOnAnotherNodeReachesTheClientWithinMilliseconds() throws Exception {
        String url = TestDatabases.newPostgresUrl();
        PromptGates gates = new PromptGates();
        gates.stepMillis = 40; // previews 2 steps apart: each travels alone
        try (Nodes n = nodesWithOnlyBFree(url, gates, EIGHT_STEPS)) {
            List<Long> remote = new ArrayList<>();
            List<Long> local = new ArrayList<>();
            int runs = 5;
            for (int i = 0; i < runs; i++) {
                remote.addAll(previewLatencies(gates, n.a(), "latency a " + i));
                local.addAll(previewLatencies(gates, n.b(), "latency b " + i));
                assertThat(gates.ranOn("latency a " + i)).isEqualTo("node-b");
            }
            double added = median(remote) - median(local);
            String report = String.format(Locale.ROOT, "streamed preview, made on another node: median %.1f ms from the"
                    + " pipeline to the client; made where accepted: median %.1f ms; added %.1f ms (%d previews each)%n",
                    median(remote), median(local), added, remote.size());
            System.out.print(report);
            Files.createDirectories(Path.of("target"));
            Files.writeString(Path.of("target/preview-latency.txt"), report);
            assertThat(added).as("NOTIFY carries each preview well under the polling interval").isLessThan(400);
        }
    }

    /** Each preview's latency (microseconds) in one streamed call of 3 previews. */
    private static List<Long> previewLatencies(PromptGates gates, TestServer on, String prompt) {
        gates.previewNanos.clear();
        List<Event> events = stream(on.baseUrl(), on.pro, Map.of("prompt", prompt, "stream", true, "partial_images", 3));
        List<Event> partials = events.stream().filter(e -> e.name().endsWith("partial_image")).toList();
        List<Long> made = List.copyOf(gates.previewNanos);
        assertThat(partials).hasSize(3);
        assertThat(made).hasSize(3);
        List<Long> micros = new ArrayList<>();
        for (int i = 0; i < 3; i++) micros.add((partials.get(i).readNanos() - made.get(i)) / 1_000);
        return micros;
    }

    /** The median of microsecond values, in milliseconds. */
    private static double median(List<Long> micros) {
        List<Long> sorted = new ArrayList<>(micros);
        Collections.sort(sorted);
        return sorted.get(sorted.size() / 2) / 1000.0;
    }

    @Test
    void urlImagesAreServedByEveryNodeUntilTheirTtl() throws Exception {
        String url = TestDatabases.newPostgresUrl();
        PromptGates gates = new PromptGates();
        try (Nodes n = nodesWithOnlyBFree(url, gates, Map.of("images.url-ttl-seconds", "3"))) {
            Http ha = new Http(n.a().baseUrl());
            Http hb = new Http(n.b().baseUrl());
            Http hc = new Http(n.c().baseUrl());
            // the same image as b64_json, for the bytes
            byte[] expected = Base64.getDecoder().decode(hb.postJson("/v1/images/generations", n.b().pro,
                    Map.of("prompt", "inline", "seed", 21)).json().path("data").get(0).path("b64_json").asText());

            // synchronous, accepted on A (which writes the image), run on B; fetched from C
            Http.Response sync = ha.postJson("/v1/images/generations", n.a().pro,
                    Map.of("prompt", "linked", "seed", 21, "response_format", "url"));
            assertThat(sync.status()).as(sync.text()).isEqualTo(200);
            assertThat(gates.ranOn("linked")).isEqualTo("node-b");
            JsonNode item = sync.json().path("data").get(0);
            String link = item.path("url").asText();
            assertThat(link).startsWith(n.a().baseUrl() + "/files/images/");
            String path = link.substring(n.a().baseUrl().length());
            for (Http h : List.of(hc, hb, ha)) {
                Http.Response got = h.get(path, null);
                assertThat(got.status()).isEqualTo(200);
                assertThat(got.header("content-type")).isEqualTo("image/png");
                assertThat(got.body()).as("the same bytes from every node").containsExactly(expected);
            }

            // async, accepted on C, run (and its image written) by B; fetched from A
            String id = submit(hc, n.c().pro, Map.of("prompt", "linked async", "seed", 21, "response_format", "url"));
            JsonNode done = AsyncJobsTest.awaitEnd(hc, n.c().pro, id);
            assertThat(done.path("status").asText()).isEqualTo("succeeded");
            assertThat(gates.ranOn("linked async")).isEqualTo("node-b");
            String asyncLink = done.path("result").path("data").get(0).path("url").asText();
            assertThat(asyncLink).startsWith(n.c().baseUrl() + "/files/images/");
            Http.Response fromA = ha.get(asyncLink.substring(n.c().baseUrl().length()), null);
            assertThat(fromA.status()).isEqualTo(200);
            assertThat(fromA.body()).containsExactly(expected);

            // after the TTL: gone everywhere, as an OpenAI error
            long expires = item.path("expires_at").asLong() * 1000;
            while (System.currentTimeMillis() < expires + 1100) Thread.sleep(50);
            for (Http h : List.of(hc, ha)) {
                Http.Response gone = h.get(path, null);
                assertThat(gone.status()).isEqualTo(404);
                assertThat(gone.header("content-type")).startsWith("application/json");
                assertThat(gone.json().path("error").path("code").asText()).isEqualTo("not_found");
                assertThat(gone.json().path("error").path("message").asText()).contains("expired");
            }
        }
    }

    /** A streamed call read line by line as it arrives, each event stamped with when its data was read. */
    static List<Event> stream(String base, String key, Map<String, Object> body) {
        try {
            HttpRequest request = HttpRequest.newBuilder(URI.create(base + "/v1/images/generations"))
                    .header("Content-Type", "application/json").header("Authorization", "Bearer " + key)
                    .POST(HttpRequest.BodyPublishers.ofByteArray(Http.JSON.writeValueAsBytes(body))).build();
            HttpResponse<Stream<String>> r = HttpClient.newHttpClient().send(request, HttpResponse.BodyHandlers.ofLines());
            assertThat(r.statusCode()).isEqualTo(200);
            List<Event> events = new ArrayList<>();
            String name = null;
            try (Stream<String> lines = r.body()) {
                for (Iterator<String> it = lines.iterator(); it.hasNext(); ) {
                    String line = it.next();
                    long at = System.nanoTime();
                    if (line.startsWith("event: ")) name = line.substring(7);
                    else if (line.startsWith("data: ")) events.add(new Event(name, Http.JSON.readTree(line.substring(6)), at));
                }
            }
            return events;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    /** The preview rows left of the newest job whose prompt is {@code prompt}. */
    private static int previewRows(String url, String prompt) throws Exception {
        try (Connection c = DriverManager.getConnection(url);
             PreparedStatement ps = c.prepareStatement("SELECT COUNT(*) FROM job_data d JOIN jobs j ON j.id = d.job_id"
                     + " WHERE d.kind LIKE 'pv%' AND j.params LIKE ?")) {
            ps.setString(1, "%\"" + prompt + "\"%");
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                return rs.getInt(1);
            }
        }
    }
}
