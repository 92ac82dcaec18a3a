package dev.easel.server.storage;

import dev.easel.server.auth.ApiKey;
import dev.easel.server.auth.ApiKeySecrets;
import dev.easel.server.auth.Tier;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.OptionalLong;

/** Keys in the database. Secrets are returned once, by {@link #create}, and never stored. */
public final class ApiKeyStore {
    private static final String COLUMNS = "id, name, tier, admin, created_at, revoked_at";

    /** The advisory lock (PostgreSQL) that makes "no key yet, so create the admin key" one step for every node. */
    private static final long FIRST_KEY_LOCK = 0x65617365_6c6b6579L; // "easelkey"
    private static final String FIRST_ADMIN_NAME = "admin";

    private final Database db;
    private final Clock clock;

    public ApiKeyStore(Database db, Clock clock) {
        this.db = db;
        this.clock = clock;
    }

    /** A new key and its secret, which the caller shows once. */
    public record Created(ApiKey key, String secret) {
    }

    public Created create(String name, Tier tier, boolean admin) {
        checkName(name);
        String secret = ApiKeySecrets.newSecret();
        long now = clock.millis();
        long id = db.with(c -> insert(c, secret, name.strip(), tier, admin, now));
        return created(id, secret, name.strip(), tier, admin, now);
    }

    /**
     * The first admin key, when the store has no key at all; empty otherwise. Checking and creating are one step for
     * every node sharing the database (a transaction-scoped advisory lock on PostgreSQL; SQLite has one writer), so
     * nodes starting at once on an empty database make one admin key, not one each.
     */
    public Optional<Created> createFirstAdmin() {
        String secret = ApiKeySecrets.newSecret();
        long now = clock.millis();
        return db.exclusiveTransaction(FIRST_KEY_LOCK, c -> {
            // one statement: SQLite takes its write lock for the check too (a read-then-write transaction of two
            // processes would fail to upgrade)
            OptionalLong id = insertReturningId(c, "INSERT INTO api_keys (secret_hash, name, tier, admin, created_at)"
                    + " SELECT ?, ?, ?, ?, ? WHERE NOT EXISTS (SELECT 1 FROM api_keys)", secret, FIRST_ADMIN_NAME, Tier.PREMIUM, true, now);
            return id.isPresent() ? Optional.of(created(id.getAsLong(), secret, FIRST_ADMIN_NAME, Tier.PREMIUM, true, now))
                    : Optional.<Created>empty();
        });
    }

    private static void checkName(String name) {
        if (name == null || name.isBlank()) throw new IllegalArgumentException("a key needs a name");
        if (name.length() > 200) throw new IllegalArgumentException("a key name is at most 200 characters");
    }

    private static long insert(Connection c, String secret, String name, Tier tier, boolean admin, long now) throws SQLException {
        return insertReturningId(c, "INSERT INTO api_keys (secret_hash, name, tier, admin, created_at) VALUES (?, ?, ?, ?, ?)",
                secret, name, tier, admin, now).orElseThrow();
    }

    /** Runs an insert of one key's columns; the new key's id, or empty when the statement inserted nothing. */
    private static OptionalLong insertReturningId(Connection c, String sql, String secret, String name, Tier tier, boolean admin,
                                                  long now) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement(sql, Statement.RETURN_GENERATED_KEYS)) {
            ps.setString(1, ApiKeySecrets.hash(secret));
            ps.setString(2, name);
            ps.setString(3, tier.id());
            ps.setInt(4, admin ? 1 : 0);
            ps.setLong(5, now);
            if (ps.executeUpdate() == 0) return OptionalLong.empty();
            try (ResultSet rs = ps.getGeneratedKeys()) {
                rs.next();
                return OptionalLong.of(rs.getLong(1));
            }
        }
    }

    private static Created created(long id, String secret, String name, Tier tier, boolean admin, long now) {
        return new Created(new ApiKey(publicId(id), name, tier, admin, Instant.ofEpochMilli(now), Optional.empty()), secret);
    }

    /** The key with this secret, revoked or not. */
    public Optional<ApiKey> findBySecret(String secret) {
        if (!ApiKeySecrets.looksLikeSecret(secret)) return Optional.empty();
        String hash = ApiKeySecrets.hash(secret);
        return db.with(c -> {
            try (PreparedStatement ps = c.prepareStatement("SELECT " + COLUMNS + " FROM api_keys WHERE secret_hash = ?")) {
                ps.setString(1, hash);
                try (ResultSet rs = ps.executeQuery()) {
                    return rs.next() ? Optional.of(read(rs)) : Optional.<ApiKey>empty();
                }
            }
        });
    }

    public Optional<ApiKey> find(String publicId) {
        Optional<Long> id = parseId(publicId);
        if (id.isEmpty()) return Optional.empty();
        return db.with(c -> {
            try (PreparedStatement ps = c.prepareStatement("SELECT " + COLUMNS + " FROM api_keys WHERE id = ?")) {
                ps.setLong(1, id.get());
                try (ResultSet rs = ps.executeQuery()) {
                    return rs.next() ? Optional.of(read(rs)) : Optional.<ApiKey>empty();
                }
            }
        });
    }

    public List<ApiKey> list() {
        return db.with(c -> {
            try (PreparedStatement ps = c.prepareStatement("SELECT " + COLUMNS + " FROM api_keys ORDER BY id");
                 ResultSet rs = ps.executeQuery()) {
                List<ApiKey> keys = new ArrayList<>();
                while (rs.next()) keys.add(read(rs));
                return keys;
            }
        });
    }

    /** Revokes a key; false when there is no such active key. */
    public boolean revoke(String publicId) {
        Optional<Long> id = parseId(publicId);
        if (id.isEmpty()) return false;
        long now = clock.millis();
        return db.with(c -> {
            try (PreparedStatement ps = c.prepareStatement("UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL")) {
                ps.setLong(1, now);
                ps.setLong(2, id.get());
                return ps.executeUpdate() == 1;
            }
        });
    }

    public boolean hasActiveAdmin() {
        return db.with(c -> {
            try (PreparedStatement ps = c.prepareStatement("SELECT 1 FROM api_keys WHERE admin = 1 AND revoked_at IS NULL LIMIT 1");
                 ResultSet rs = ps.executeQuery()) {
                return rs.next();
            }
        });
    }

    /** A key's webhook settings: the default URL for its jobs and the signing secret (either may be absent). */
    public record Webhook(Optional<String> url, Optional<String> secret) {
    }

    public Webhook webhook(String publicId) {
        long id = parseId(publicId).orElseThrow();
        return db.with(c -> {
            try (PreparedStatement ps = c.prepareStatement("SELECT webhook_url, webhook_secret FROM api_keys WHERE id = ?")) {
                ps.setLong(1, id);
                try (ResultSet rs = ps.executeQuery()) {
                    if (!rs.next()) return new Webhook(Optional.empty(), Optional.empty());
                    return new Webhook(Optional.ofNullable(rs.getString(1)), Optional.ofNullable(rs.getString(2)));
                }
            }
        });
    }

    /** Sets (or with null clears) the key's default webhook URL. */
    public void setWebhookUrl(String publicId, String url) {
        long id = parseId(publicId).orElseThrow();
        db.with(c -> {
            try (PreparedStatement ps = c.prepareStatement("UPDATE api_keys SET webhook_url = ? WHERE id = ?")) {
                ps.setString(1, url);
                ps.setLong(2, id);
                return ps.executeUpdate();
            }
        });
    }

    /** Makes a new webhook signing secret for the key (replacing any old one) and returns it, to be shown once. */
    public String newWebhookSecret(String publicId) {
        long id = parseId(publicId).orElseThrow();
        String secret = ApiKeySecrets.newWebhookSecret();
        db.with(c -> {
            try (PreparedStatement ps = c.prepareStatement("UPDATE api_keys SET webhook_secret = ? WHERE id = ?")) {
                ps.setString(1, secret);
                ps.setLong(2, id);
                return ps.executeUpdate();
            }
        });
        return secret;
    }

    public static String publicId(long id) {
        return "key_" + id;
    }

    public static Optional<Long> parseId(String publicId) {
        if (publicId == null) return Optional.empty();
        String digits = publicId.startsWith("key_") ? publicId.substring(4) : publicId;
        if (digits.isEmpty() || digits.length() > 18 || !digits.chars().allMatch(Character::isDigit)) return Optional.empty();
        return Optional.of(Long.parseLong(digits));
    }

    private static ApiKey read(ResultSet rs) throws SQLException {
        long revoked = rs.getLong("revoked_at");
        Optional<Instant> revokedAt = rs.wasNull() ? Optional.empty() : Optional.of(Instant.ofEpochMilli(revoked));
        return new ApiKey(
                publicId(rs.getLong("id")),
                rs.getString("name"),
                Tier.parse(rs.getString("tier")).orElse(Tier.FREE),
                rs.getInt("admin") == 1,
                Instant.ofEpochMilli(rs.getLong("created_at")),
                revokedAt);
    }
}
