package dev.easel.server.storage;

import java.security.SecureRandom;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * Images answered with {@code response_format=url}: rows of {@code url_images} under an unguessable name (256 random
 * bits), served without authentication for a limited time (like a signed link), then deleted. They live in the
 * database, not in one node's data dir, so with a shared PostgreSQL every node serves every link.
 */
public final class UrlImageStore {
    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9_-]{43}\\.(png|jpeg|webp)");
    private static final SecureRandom RANDOM = new SecureRandom();

    private final Database db;
    private final Duration ttl;
    private final Clock clock;

    public UrlImageStore(Database db, Duration ttl, Clock clock) {
        this.db = db;
        this.ttl = ttl;
        this.clock = clock;
    }

    /** A stored image: the file name to put in the link and when the link stops working. */
    public record Stored(String name, Instant expiresAt) {
    }

    public record Found(byte[] bytes, String contentType, Instant expiresAt) {
    }

    public Stored store(byte[] bytes, String extension) {
        byte[] token = new byte[32];
        RANDOM.nextBytes(token);
        String name = Base64.getUrlEncoder().withoutPadding().encodeToString(token) + "." + extension;
        Instant now = clock.instant();
        Instant expires = now.plus(ttl);
        db.with(c -> {
            try (PreparedStatement ps = c.prepareStatement(
                    "INSERT INTO url_images (name, content_type, data, created_at, expires_at) VALUES (?, ?, ?, ?, ?)")) {
                ps.setString(1, name);
                ps.setString(2, "image/" + extension);
                ps.setBytes(3, bytes);
                ps.setLong(4, now.toEpochMilli());
                ps.setLong(5, expires.toEpochMilli());
                return ps.executeUpdate();
            }
        });
        return new Stored(name, expires);
    }

    /** The image under {@code name} if it exists and has not expired. */
    public Optional<Found> find(String name) {
        if (name == null || !NAME.matcher(name).matches()) return Optional.empty();
        return db.with(c -> {
            try (PreparedStatement ps = c.prepareStatement(
                    "SELECT data, content_type, expires_at FROM url_images WHERE name = ? AND expires_at > ?")) {
                ps.setString(1, name);
                ps.setLong(2, clock.instant().toEpochMilli());
                try (ResultSet rs = ps.executeQuery()) {
                    return rs.next()
                            ? Optional.of(new Found(rs.getBytes(1), rs.getString(2), Instant.ofEpochMilli(rs.getLong(3))))
                            : Optional.<Found>empty();
                }
            }
        });
    }

    /** Deletes expired images (whichever node wrote them); returns how many. */
    public int sweep() {
        return db.with(c -> {
            try (PreparedStatement ps = c.prepareStatement("DELETE FROM url_images WHERE expires_at <= ?")) {
                ps.setLong(1, clock.instant().toEpochMilli());
                return ps.executeUpdate();
            }
        });
    }

    public Duration ttl() {
        return ttl;
    }
}
