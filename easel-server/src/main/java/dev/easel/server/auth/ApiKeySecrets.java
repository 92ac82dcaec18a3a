package dev.easel.server.auth;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.util.Base64;
import java.util.HexFormat;

/**
 * Making and hashing key secrets. A secret is {@value #PREFIX} followed by 256 random bits (base64url);
 * with that much entropy a plain SHA-256 is the right stored form (no slow hash needed: there is nothing
 * to brute-force), and it lets a request's key be found by an index lookup.
 */
public final class ApiKeySecrets {
    public static final String PREFIX = "sk-easel-";
    private static final SecureRandom RANDOM = new SecureRandom();

    private ApiKeySecrets() {
    }

    public static String newSecret() {
        byte[] bytes = new byte[32];
        RANDOM.nextBytes(bytes);
        return PREFIX + Base64.getUrlEncoder().withoutPadding().encodeToString(bytes);
    }

    /** A webhook signing secret in the Standard Webhooks form: {@code whsec_} and 256 random bits in base64. */
    public static String newWebhookSecret() {
        byte[] bytes = new byte[32];
        RANDOM.nextBytes(bytes);
        return "whsec_" + Base64.getEncoder().encodeToString(bytes);
    }

    public static String hash(String secret) {
        try {
            MessageDigest sha = MessageDigest.getInstance("SHA-256");
            return HexFormat.of().formatHex(sha.digest(secret.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is missing from this JDK", e);
        }
    }

    /** Whether a string has the shape of one of our secrets (cheap pre-check before a lookup). */
    public static boolean looksLikeSecret(String s) {
        return s != null && s.startsWith(PREFIX) && s.length() == PREFIX.length() + 43
                && s.chars().skip(PREFIX.length()).allMatch(c -> Character.isLetterOrDigit(c) || c == '-' || c == '_');
    }
}
