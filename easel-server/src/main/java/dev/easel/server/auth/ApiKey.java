package dev.easel.server.auth;

import java.time.Instant;
import java.util.Optional;

/**
 * A stored key, without its secret: only its SHA-256 is kept.
 *
 * @param id    the public identifier ("key_12"), used to list, revoke and read usage
 * @param admin whether the key may call the admin endpoints
 */
public record ApiKey(String id, String name, Tier tier, boolean admin, Instant createdAt, Optional<Instant> revokedAt) {

    public boolean active() {
        return revokedAt.isEmpty();
    }
}
