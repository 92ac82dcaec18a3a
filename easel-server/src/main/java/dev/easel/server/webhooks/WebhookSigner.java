package dev.easel.server.webhooks;

import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.util.Base64;

/**
 * Standard Webhooks signatures: {@code v1,<base64 HMAC-SHA256 of "id.timestamp.body">}, keyed with the bytes of
 * the secret after its {@code whsec_} prefix (base64). Receivers verify with any Standard Webhooks library.
 */
public final class WebhookSigner {
    public static final String PREFIX = "whsec_";

    private WebhookSigner() {
    }

    public static String sign(String secret, String messageId, long timestampSeconds, String body) {
        if (secret == null || !secret.startsWith(PREFIX)) throw new IllegalArgumentException("not a whsec_ secret");
        byte[] key = Base64.getDecoder().decode(secret.substring(PREFIX.length()));
        try {
            Mac mac = Mac.getInstance("HmacSHA256");
            mac.init(new SecretKeySpec(key, "HmacSHA256"));
            byte[] digest = mac.doFinal((messageId + "." + timestampSeconds + "." + body).getBytes(StandardCharsets.UTF_8));
            return "v1," + Base64.getEncoder().encodeToString(digest);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("HmacSHA256 is missing from this JDK", e);
        }
    }
}
