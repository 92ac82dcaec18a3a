package dev.easel.server.api;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.easel.server.auth.ApiKey;
import dev.easel.server.auth.Tier;
import dev.easel.server.storage.ApiKeyStore;
import io.javalin.http.Context;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;

/**
 * Key administration over HTTP, for admin keys only: {@code POST /v1/admin/keys} ({@code {"tier","name"}},
 * answers the secret once), {@code GET /v1/admin/keys}, {@code DELETE /v1/admin/keys/{id}}, and
 * {@code GET /v1/admin/keys/{id}/usage}.
 */
final class AdminRoutes {
    private static final Logger log = LoggerFactory.getLogger(AdminRoutes.class);

    private final ApiKeyStore keys;
    private final UsageRoute usage;
    private final ObjectMapper json;

    AdminRoutes(ApiKeyStore keys, UsageRoute usage, ObjectMapper json) {
        this.keys = keys;
        this.usage = usage;
        this.json = json;
    }

    void create(Context ctx) {
        ApiKey admin = Routes.admin(ctx);
        JsonNode body;
        try {
            body = ctx.bodyAsBytes().length == 0 ? json.createObjectNode() : json.readTree(ctx.bodyAsBytes());
        } catch (IOException e) {
            throw ApiException.badRequest(null, "invalid_json", "The body is not valid JSON.");
        }
        if (body == null || !body.isObject()) throw ApiException.badRequest(null, "invalid_json", "The body must be a JSON object.");
        String tierText = body.path("tier").asText("");
        Tier tier = Tier.parse(tierText).orElseThrow(() ->
                ApiException.invalidValue("tier", "'tier' must be free, pro or premium."));
        String name = body.path("name").asText("");
        if (name.isBlank()) throw ApiException.badRequest("name", "missing_required_parameter", "Missing required parameter: 'name'.");
        if (name.length() > 200) throw ApiException.invalidValue("name", "'name' is at most 200 characters.");
        boolean makeAdmin = body.path("admin").asBoolean(false);
        ApiKeyStore.Created created = keys.create(name, tier, makeAdmin);
        log.info("key {} ({}, {} tier{}) created by {}", created.key().id(), created.key().name(), tier.id(),
                makeAdmin ? ", admin" : "", admin.id());
        ObjectNode out = describe(created.key());
        out.put("key", created.secret());
        ctx.status(201).json(out);
    }

    void list(Context ctx) {
        Routes.admin(ctx);
        ObjectNode body = json.createObjectNode();
        body.put("object", "list");
        ArrayNode data = body.putArray("data");
        keys.list().forEach(k -> data.add(describe(k)));
        ctx.json(body);
    }

    void revoke(Context ctx) {
        ApiKey admin = Routes.admin(ctx);
        String id = ctx.pathParam("id");
        ApiKey target = keys.find(id).orElseThrow(() -> ApiException.notFound("id", "key_not_found", "No key '" + id + "'."));
        boolean revoked = keys.revoke(target.id());
        if (revoked) log.info("key {} revoked by {}", target.id(), admin.id());
        ObjectNode out = describe(keys.find(target.id()).orElse(target));
        out.put("revoked", true);
        ctx.json(out);
    }

    void usage(Context ctx) {
        Routes.admin(ctx);
        String id = ctx.pathParam("id");
        ApiKey target = keys.find(id).orElseThrow(() -> ApiException.notFound("id", "key_not_found", "No key '" + id + "'."));
        ctx.json(usage.report(target, ctx));
    }

    private ObjectNode describe(ApiKey k) {
        ObjectNode o = json.createObjectNode();
        o.put("id", k.id());
        o.put("object", "api_key");
        o.put("name", k.name());
        o.put("tier", k.tier().id());
        o.put("admin", k.admin());
        o.put("created_at", k.createdAt().getEpochSecond());
        if (k.revokedAt().isPresent()) o.put("revoked_at", k.revokedAt().get().getEpochSecond());
        else o.putNull("revoked_at");
        return o;
    }
}
