package dev.easel.server.auth;

import dev.easel.server.storage.ApiKeyStore;

import java.util.Optional;

/** Finds the key of a request from its {@code Authorization: Bearer} header. */
public final class Authenticator {
    private final ApiKeyStore keys;

    public Authenticator(ApiKeyStore keys) {
        this.keys = keys;
    }

    /** Outcome: the key, or why there is none (for the 401 message, never echoing the secret). */
    public sealed interface Result permits Result.Ok, Result.Missing, Result.Invalid, Result.Revoked {
        record Ok(ApiKey key) implements Result {
        }

        record Missing() implements Result {
        }

        record Invalid() implements Result {
        }

        record Revoked() implements Result {
        }
    }

    public Result authenticate(String authorizationHeader) {
        if (authorizationHeader == null || authorizationHeader.isBlank()) return new Result.Missing();
        String h = authorizationHeader.strip();
        if (!h.regionMatches(true, 0, "Bearer ", 0, 7)) return new Result.Invalid();
        String secret = h.substring(7).strip();
        if (secret.isEmpty()) return new Result.Missing();
        Optional<ApiKey> key = keys.findBySecret(secret);
        if (key.isEmpty()) return new Result.Invalid();
        if (!key.get().active()) return new Result.Revoked();
        return new Result.Ok(key.get());
    }
}
