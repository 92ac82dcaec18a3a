package dev.easel.server.api;

import com.fasterxml.jackson.databind.JsonNode;
import dev.easel.server.support.FakePipeline;
import dev.easel.server.support.Http;
import dev.easel.server.support.TestImages;
import dev.easel.server.support.TestServer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/** Server-sent events exactly as OpenAI sends them: `event:` and `data:` lines, blank-line separated. */
class StreamingTest {
    static final FakePipeline pipeline = new FakePipeline();
    static TestServer server;
    static Http http;

    @BeforeAll
    static void start() {
        server = TestServer.builder().fakeModel("stable-diffusion-1.5").loader(p -> pipeline)
                .set("catalog.stable-diffusion-1.5.steps", "8").start();
        http = new Http(server.baseUrl());
    }

    @AfterAll
    static void stop() {
        server.close();
    }

    record Event(String name, JsonNode data) {
    }

    static List<Event> parse(String body) {
        List<Event> events = new ArrayList<>();
        for (String block : body.split("\n\n")) {
            String name = null;
            StringBuilder data = new StringBuilder();
            for (String line : block.split("\n")) {
                if (line.startsWith("event: ")) name = line.substring(7);
                else if (line.startsWith("data: ")) data.append(line.substring(6));
            }
            if (!data.isEmpty()) {
                try {
                    events.add(new Event(name, Http.JSON.readTree(data.toString())));
                } catch (Exception e) {
                    throw new AssertionError("bad data line: " + data, e);
                }
            }
        }
        return events;
    }

    @Test
    void generationStreamsPartialImagesThenOneCompletedEventPerImage() {
        Http.Response r = http.postJson("/v1/images/generations", server.free,
                Map.of("prompt", "x", "stream", true, "partial_images", 3, "n", 2, "seed", 7));
        assertThat(r.status()).isEqualTo(200);
        assertThat(r.header("content-type")).startsWith("text/event-stream");
        List<Event> events = parse(r.text());
        List<Event> partial = events.stream().filter(e -> e.name().equals("image_generation.partial_image")).toList();
        List<Event> completed = events.stream().filter(e -> e.name().equals("image_generation.completed")).toList();
        assertThat(partial).hasSize(6); // 3 previews x 2 images
        assertThat(completed).hasSize(2);
        assertThat(events.getLast().name()).isEqualTo("image_generation.completed");
        for (Event e : events) {
            assertThat(e.data().path("type").asText()).isEqualTo(e.name());
            for (String field : List.of("b64_json", "created_at", "size", "quality", "background", "output_format")) {
                assertThat(e.data().has(field)).as(field).isTrue();
            }
            assertThat(e.data().path("size").asText()).isIn("1024x1024", "1024x1536", "1536x1024", "auto");
        }
        assertThat(partial.stream().map(e -> e.data().path("partial_image_index").asInt()).toList()).containsExactly(0, 0, 1, 1, 2, 2);
        JsonNode done = completed.getFirst().data();
        assertThat(done.path("usage").has("total_tokens")).isTrue();
        assertThat(done.path("seed").asLong()).isEqualTo(7);
        byte[] png = Base64.getDecoder().decode(done.path("b64_json").asText());
        assertThat(TestImages.read(png).getWidth()).isEqualTo(64);
    }

    @Test
    void editsStreamAsImageEditEvents() {
        Http.Response r = http.postMultipart("/v1/images/edits", server.free, new Http.Multipart().text("prompt", "x")
                .file("image", "a.png", "image/png", TestImages.png(64, 64, 1)).text("stream", "true").text("partial_images", "1"));
        List<Event> events = parse(r.text());
        assertThat(events).extracting(Event::name).containsExactly("image_edit.partial_image", "image_edit.completed");
    }

    @Test
    void aFailureAfterTheStreamStartedIsAnErrorEvent() {
        Http.Response r = http.postJson("/v1/images/generations", server.free, Map.of("prompt", "x", "stream", true, "sampler", "bogus"));
        assertThat(r.status()).isEqualTo(200);
        List<Event> events = parse(r.text());
        assertThat(events).hasSize(1);
        assertThat(events.getFirst().name()).isEqualTo("error");
        assertThat(events.getFirst().data().path("error").path("param").asText()).isEqualTo("sampler");
    }

    @Test
    void aFailureBeforeTheStreamIsAnOrdinaryError() {
        Http.Response r = http.postJson("/v1/images/generations", server.free, Map.of("prompt", "x", "stream", true, "size", "13x13"));
        assertThat(r.status()).isEqualTo(400);
        assertThat(r.header("content-type")).startsWith("application/json");
    }
}
