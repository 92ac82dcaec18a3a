package dev.easel.server.playground;

import dev.easel.server.support.Http;
import dev.easel.server.support.TestServer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;

/** The playground's files over HTTP: public, from the jar, only from this origin; the API's 404s unchanged. */
class PlaygroundRouteTest {
    static TestServer server;
    static Http http;

    @BeforeAll
    static void start() {
        server = TestServer.builder().fakeModel("stable-diffusion-1.5").start();
        http = new Http(server.baseUrl());
    }

    @AfterAll
    static void stop() {
        server.close();
    }

    @Test
    void theRootIsThePageWithoutAKey() {
        Http.Response r = http.get("/", null);
        assertThat(r.status()).isEqualTo(200);
        assertThat(r.header("content-type")).startsWith("text/html");
        assertThat(r.header("content-security-policy")).contains("default-src 'self'", "connect-src 'self'");
        assertThat(r.text()).contains("<title>Easel playground</title>", "src=\"/playground/app.js\"");
    }

    @Test
    void everyFileThePageLoadsIsServedFromTheJarAndNothingComesFromElsewhere() {
        List<String> files = List.of("app.js", "api.js", "store.js", "snippets.js", "mask.js", "style.css", "icon.svg");
        for (String f : files) {
            Http.Response r = http.get("/playground/" + f, null);
            assertThat(r.status()).as(f).isEqualTo(200);
            assertThat(r.header("x-content-type-options")).isEqualTo("nosniff");
            String type = f.endsWith(".js") ? "text/javascript" : f.endsWith(".css") ? "text/css" : "image/svg+xml";
            assertThat(r.header("content-type")).as(f).startsWith(type);
            // no CDN: every import, src and href stays on this server
            Matcher m = Pattern.compile("(?:import[^'\"]*|src=|href=|url\\()\\s*['\"]?(https?:)?//").matcher(r.text());
            assertThat(m.find()).as(f + " loads nothing from another origin").isFalse();
        }
        String index = http.get("/", null).text();
        Matcher refs = Pattern.compile("(?:src|href)=\"(/playground/[^\"]+)\"").matcher(index);
        int count = 0;
        while (refs.find()) {
            assertThat(http.get(refs.group(1), null).status()).as(refs.group(1)).isEqualTo(200);
            count++;
        }
        assertThat(count).isGreaterThanOrEqualTo(3);
    }

    @Test
    void unknownFilesAndApiPathsStayJsonNotFound() {
        for (String path : List.of("/playground/nope.js", "/playground/..%2Fconfig%2Fdefaults.yaml", "/v1/nope", "/nope")) {
            Http.Response r = http.get(path, server.free);
            assertThat(r.status()).as(path).isEqualTo(404);
            assertThat(r.json().path("error").path("code").asText()).as(path).isEqualTo("not_found");
        }
        assertThat(http.get("/v1/models", null).status()).as("the API still needs a key").isEqualTo(401);
    }
}
