package dev.easel.server.storage;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;

/**
 * Per-key limits kept in the database, so that every node sharing it enforces them together: a token bucket per key
 * for requests per minute, and leases for concurrent jobs and reserved images. Each check runs in one transaction
 * with the key's row locked ({@code SELECT ... FOR UPDATE} on PostgreSQL; SQLite has one writer at a time anyway).
 */
public final class LimitStore {
    private final Database db;
    private final Clock clock;
    private final String forUpdate;

    public LimitStore(Database db, Clock clock) {
        this.db = db;
        this.clock = clock;
        this.forUpdate = db.dialect() == Database.Dialect.POSTGRESQL ? " FOR UPDATE" : "";
    }

    /**
     * Takes one token from the key's bucket ({@code capacity} tokens, refilled evenly over {@code period}).
     *
     * @return 0 when taken, else the milliseconds until a token will be there
     */
    public long tryConsume(String keyId, int capacity, Duration period) {
        long key = ApiKeyStore.parseId(keyId).orElseThrow();
        long now = clock.millis();
        return db.transaction(c -> {
            lockKey(c, key);
            double tokens = capacity;
            long updated = now;
            try (PreparedStatement ps = c.prepareStatement("SELECT tokens, updated_at FROM rate_buckets WHERE key_id = ?")) {
                ps.setLong(1, key);
                try (ResultSet rs = ps.executeQuery()) {
                    if (rs.next()) {
                        tokens = rs.getDouble(1);
                        updated = rs.getLong(2);
                    } else {
                        insertBucket(c, key, capacity, now);
                    }
                }
            }
            double perMilli = (double) capacity / period.toMillis();
            tokens = Math.min(capacity, tokens + Math.max(0, now - updated) * perMilli);
            long wait = 0;
            if (tokens >= 1) {
                tokens -= 1;
            } else {
                wait = (long) Math.ceil((1 - tokens) / perMilli);
            }
            try (PreparedStatement ps = c.prepareStatement("UPDATE rate_buckets SET tokens = ?, updated_at = ? WHERE key_id = ?")) {
                ps.setDouble(1, tokens);
                ps.setLong(2, now);
                ps.setLong(3, key);
                ps.executeUpdate();
            }
            return wait;
        });
    }

    private static void insertBucket(Connection c, long key, int capacity, long now) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("INSERT INTO rate_buckets (key_id, tokens, updated_at) VALUES (?, ?, ?)")) {
            ps.setLong(1, key);
            ps.setDouble(2, capacity);
            ps.setLong(3, now);
            ps.executeUpdate();
        }
    }

    /** Why a lease was refused, or the lease. */
    public sealed interface LeaseResult permits Leased, TooManyJobs, OverDailyImages {
    }

    public record Leased(String id) implements LeaseResult {
    }

    public record TooManyJobs() implements LeaseResult {
    }

    /** @param left images the key may still ask for today */
    public record OverDailyImages(long left) implements LeaseResult {
    }

    /**
     * Takes one of the key's {@code maxJobs} places and reserves {@code images} of its {@code imagesPerDay}
     * (images made since {@code dayStart} plus images held by live leases), for {@code ttl}; renew with {@link #renew}.
     */
    public LeaseResult acquire(String keyId, String node, int images, int maxJobs, long imagesPerDay, Instant dayStart, Duration ttl) {
        long key = ApiKeyStore.parseId(keyId).orElseThrow();
        long now = clock.millis();
        return db.transaction(c -> {
            lockKey(c, key);
            long held;
            long reserved;
            try (PreparedStatement ps = c.prepareStatement(
                    "SELECT COUNT(*), COALESCE(SUM(images), 0) FROM limit_leases WHERE key_id = ? AND expires_at > ?")) {
                ps.setLong(1, key);
                ps.setLong(2, now);
                try (ResultSet rs = ps.executeQuery()) {
                    rs.next();
                    held = rs.getLong(1);
                    reserved = rs.getLong(2);
                }
            }
            long made;
            try (PreparedStatement ps = c.prepareStatement("SELECT COALESCE(SUM(images), 0) FROM usage WHERE key_id = ? AND at >= ?")) {
                ps.setLong(1, key);
                ps.setLong(2, dayStart.toEpochMilli());
                try (ResultSet rs = ps.executeQuery()) {
                    rs.next();
                    made = rs.getLong(1);
                }
            }
            if (made + reserved + images > imagesPerDay) return new OverDailyImages(Math.max(0, imagesPerDay - made - reserved));
            if (held >= maxJobs) return new TooManyJobs();
            String id = JobStore.newId().replace("job_", "lease_");
            try (PreparedStatement ps = c.prepareStatement(
                    "INSERT INTO limit_leases (id, key_id, node, images, expires_at) VALUES (?, ?, ?, ?, ?)")) {
                ps.setString(1, id);
                ps.setLong(2, key);
                ps.setString(3, node);
                ps.setInt(4, images);
                ps.setLong(5, now + ttl.toMillis());
                ps.executeUpdate();
            }
            try (PreparedStatement ps = c.prepareStatement("DELETE FROM limit_leases WHERE key_id = ? AND expires_at <= ?")) {
                ps.setLong(1, key);
                ps.setLong(2, now);
                ps.executeUpdate();
            }
            return new Leased(id);
        });
    }

    public void release(String leaseId) {
        db.with(c -> {
            try (PreparedStatement ps = c.prepareStatement("DELETE FROM limit_leases WHERE id = ?")) {
                ps.setString(1, leaseId);
                return ps.executeUpdate();
            }
        });
    }

    /** Extends every lease of {@code node} to now + {@code ttl}; returns how many. */
    public int renew(String node, Duration ttl) {
        long until = clock.millis() + ttl.toMillis();
        return db.with(c -> {
            try (PreparedStatement ps = c.prepareStatement("UPDATE limit_leases SET expires_at = ? WHERE node = ?")) {
                ps.setLong(1, until);
                ps.setString(2, node);
                return ps.executeUpdate();
            }
        });
    }

    /** Serialises the limit checks of one key across nodes. */
    private void lockKey(Connection c, long key) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("SELECT id FROM api_keys WHERE id = ?" + forUpdate)) {
            ps.setLong(1, key);
            ps.executeQuery().close();
        }
    }
}
