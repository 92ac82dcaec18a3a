package dev.easel.server.api;

import io.javalin.http.Context;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Pattern;

/**
 * The web playground: static HTML, CSS and JS modules from the jar ({@code dev/easel/server/playground/}),
 * at {@code /} and {@code /playground/{file}}. The page needs no key; every data call it makes goes to the
 * public API with the key the user enters. A strict content security policy keeps it to this origin.
 */
final class PlaygroundRoute {
    private static final String ROOT = "/dev/easel/server/playground/";
    private static final Pattern FILE = Pattern.compile("[a-z][a-z0-9-]{0,40}\\.(html|css|js|svg)");
    private static final Map<String, String> TYPES = Map.of(
            "html", "text/html; charset=utf-8",
            "css", "text/css; charset=utf-8",
            "js", "text/javascript; charset=utf-8",
            "svg", "image/svg+xml");
    private static final String CSP = "default-src 'self'; img-src 'self' data: blob:; connect-src 'self' blob:; "
            + "style-src 'self'; script-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

    private final Map<String, Optional<byte[]>> cache = new ConcurrentHashMap<>();

    void index(Context ctx) {
        serve(ctx, "index.html");
    }

    void file(Context ctx) {
        serve(ctx, ctx.pathParam("file"));
    }

    private void serve(Context ctx, String name) {
        byte[] body = FILE.matcher(name).matches() ? cache.computeIfAbsent(name, PlaygroundRoute::load).orElse(null) : null;
        if (body == null) throw ApiException.notFound(null, "not_found", "Unknown endpoint GET " + ctx.path() + ".");
        String ext = name.substring(name.lastIndexOf('.') + 1);
        ctx.header("Content-Security-Policy", CSP);
        ctx.header("X-Content-Type-Options", "nosniff");
        ctx.header("Referrer-Policy", "no-referrer");
        ctx.header("Cache-Control", "no-cache");
        ctx.contentType(TYPES.get(ext)).result(body);
    }

    private static Optional<byte[]> load(String name) {
        try (InputStream in = PlaygroundRoute.class.getResourceAsStream(ROOT + name)) {
            return in == null ? Optional.empty() : Optional.of(in.readAllBytes());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read the playground file " + name, e);
        }
    }
}
