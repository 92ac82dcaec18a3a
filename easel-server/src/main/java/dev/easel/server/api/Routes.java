package dev.easel.server.api;

import dev.easel.server.auth.ApiKey;
import io.javalin.http.Context;

/** Small helpers shared by the routes. */
final class Routes {
    static final String KEY_ATTRIBUTE = "easel.key";

    private Routes() {
    }

    /** The authenticated key (set by the authentication filter on every {@code /v1/} route). */
    static ApiKey key(Context ctx) {
        ApiKey key = ctx.attribute(KEY_ATTRIBUTE);
        if (key == null) throw ApiException.unauthorized("missing_api_key", "You didn't provide an API key.");
        return key;
    }

    static ApiKey admin(Context ctx) {
        ApiKey key = key(ctx);
        if (!key.admin()) {
            throw ApiException.forbidden(null, "admin_required", "This endpoint needs an admin key.");
        }
        return key;
    }
}
