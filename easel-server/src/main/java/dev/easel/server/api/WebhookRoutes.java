package dev.easel.server.api;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.easel.server.auth.ApiKey;
import dev.easel.server.storage.ApiKeyStore;
import dev.easel.server.webhooks.WebhookTargets;
import io.javalin.http.Context;

import java.io.IOException;

/**
 * A key's webhook settings: {@code GET /v1/webhook} (default URL, whether a secret is set),
 * {@code PUT /v1/webhook {"url": ...}} (the default for the key's async jobs; null clears it), and
 * {@code POST /v1/webhook/secret}, which makes a new signing secret and shows it this once.
 */
final class WebhookRoutes {
    private final ApiKeyStore keys;
    private final WebhookTargets targets;
    private final ObjectMapper json;

    WebhookRoutes(ApiKeyStore keys, WebhookTargets targets, ObjectMapper json) {
        this.keys = keys;
        this.targets = targets;
        this.json = json;
    }

    void get(Context ctx) {
        ctx.json(body(Routes.key(ctx), null));
    }

    void put(Context ctx) {
        ApiKey key = Routes.key(ctx);
        JsonNode root;
        try {
            root = json.readTree(ctx.bodyAsBytes());
        } catch (IOException e) {
            throw ApiException.badRequest(null, "invalid_json", "The body is not valid JSON.");
        }
        if (root == null || !root.isObject() || !root.has("url")) {
            throw ApiException.badRequest("url", "missing_required_parameter", "Send {\"url\": \"https://...\"} (or null to clear it).");
        }
        JsonNode url = root.get("url");
        if (url.isNull()) {
            keys.setWebhookUrl(key.id(), null);
        } else {
            if (!url.isTextual() || url.asText().length() > 2048) throw ApiException.invalidValue("url", "'url' must be a string of at most 2048 characters.");
            String refused = targets.refusal(url.asText().strip());
            if (refused != null) throw ApiException.badRequest("url", "invalid_webhook_url", "The webhook URL is refused: " + refused + ".");
            keys.setWebhookUrl(key.id(), url.asText().strip());
        }
        ctx.json(body(key, null));
    }

    void newSecret(Context ctx) {
        ApiKey key = Routes.key(ctx);
        String secret = keys.newWebhookSecret(key.id());
        ctx.status(201).json(body(key, secret));
    }

    private ObjectNode body(ApiKey key, String newSecret) {
        ApiKeyStore.Webhook w = keys.webhook(key.id());
        ObjectNode o = json.createObjectNode();
        o.put("object", "webhook_settings");
        w.url().ifPresentOrElse(u -> o.put("url", u), () -> o.putNull("url"));
        o.put("secret_set", w.secret().isPresent());
        if (newSecret != null) {
            o.put("secret", newSecret);
            o.put("note", "The secret is shown only this once. Verify each delivery's webhook-signature with it (Standard Webhooks).");
        }
        return o;
    }
}
