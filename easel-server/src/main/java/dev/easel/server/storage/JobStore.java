package dev.easel.server.storage;

import java.security.SecureRandom;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.Optional;

/**
 * Job records: one row per generation or edit, synchronous or async, from acceptance to its end. A job ends once:
 * {@link #finish} only moves a job that has not ended, so no job is answered twice.
 */
public final class JobStore {
    private static final SecureRandom RANDOM = new SecureRandom();
    private static final String COLUMNS = "id, key_id, mode, endpoint, model, params, priority, state, step, total_steps,"
            + " node, cancel_requested, created_at, started_at, finished_at, deadline, result_location, result, error,"
            + " http_status, webhook_url, webhook_state, webhook_attempts, webhook_last_status, webhook_last_error,"
            + " webhook_delivered_at";

    private final Database db;

    public JobStore(Database db) {
        this.db = db;
    }

    public enum State {
        QUEUED, RUNNING, SUCCEEDED, FAILED, CANCELLED;

        public String id() {
            return name().toLowerCase(Locale.ROOT);
        }

        public boolean ended() {
            return this == SUCCEEDED || this == FAILED || this == CANCELLED;
        }

        static State parse(String s) {
            return valueOf(s.toUpperCase(Locale.ROOT));
        }
    }

    /** A new public job id: 128 random bits. */
    public static String newId() {
        byte[] b = new byte[16];
        RANDOM.nextBytes(b);
        return "job_" + HexFormat.of().formatHex(b);
    }

    /** What is known of a job when it is accepted. */
    public record NewJob(String id, String keyId, boolean async, String endpoint, String model, String paramsJson,
                         int priority, Instant createdAt, Instant deadline, String webhookUrl) {
    }

    /** One row. */
    public record JobRecord(String id, String keyId, boolean async, String endpoint, String model, String paramsJson,
                            int priority, State state, int step, int totalSteps, String node, boolean cancelRequested,
                            Instant createdAt, Optional<Instant> startedAt, Optional<Instant> finishedAt, Instant deadline,
                            String resultLocation, String resultJson, String errorJson, Integer httpStatus,
                            String webhookUrl, String webhookState, int webhookAttempts, Integer webhookLastStatus,
                            String webhookLastError, Optional<Instant> webhookDeliveredAt) {
    }

    public void insert(NewJob j) {
        long key = ApiKeyStore.parseId(j.keyId()).orElseThrow(() -> new IllegalArgumentException("bad key id " + j.keyId()));
        db.with(c -> {
            try (PreparedStatement ps = c.prepareStatement(
                    "INSERT INTO jobs (id, key_id, mode, endpoint, model, params, priority, state, created_at, deadline,"
                            + " webhook_url, webhook_state) VALUES (?, ?, ?, ?, ?, ?, ?, 'queued', ?, ?, ?, ?)")) {
                ps.setString(1, j.id());
                ps.setLong(2, key);
                ps.setString(3, j.async() ? "async" : "sync");
                ps.setString(4, j.endpoint());
                ps.setString(5, j.model());
                ps.setString(6, j.paramsJson());
                ps.setInt(7, j.priority());
                ps.setLong(8, j.createdAt().toEpochMilli());
                ps.setLong(9, j.deadline().toEpochMilli());
                ps.setString(10, j.webhookUrl());
                ps.setString(11, j.webhookUrl() == null ? null : "pending");
                return ps.executeUpdate();
            }
        });
    }

    /** A queued job starts running on {@code node}; false if it is no longer queued. */
    public boolean markRunning(String id, String node, Instant now) {
        return update("UPDATE jobs SET state = 'running', node = ?, started_at = ? WHERE id = ? AND state = 'queued'",
                node, now.toEpochMilli(), id) == 1;
    }

    /** Progress of a running job. */
    public void progress(String id, int step, int totalSteps) {
        update("UPDATE jobs SET step = ?, total_steps = ? WHERE id = ? AND state = 'running'", step, totalSteps, id);
    }

    /**
     * Ends a job that has not ended yet.
     *
     * @return false when it had already ended (its end is not written twice)
     */
    public boolean finish(String id, State state, String resultLocation, String resultJson, String errorJson,
                          Integer httpStatus, Instant now) {
        if (!state.ended()) throw new IllegalArgumentException(state + " is not an end state");
        return update("UPDATE jobs SET state = ?, result_location = ?, result = ?, error = ?, http_status = ?, finished_at = ?"
                        + " WHERE id = ? AND state IN ('queued', 'running')",
                state.id(), resultLocation, resultJson, errorJson, httpStatus, now.toEpochMilli(), id) == 1;
    }

    /** Marks a job for cancellation (whichever node runs it stops it); false if it has ended. */
    public boolean requestCancel(String id) {
        return update("UPDATE jobs SET cancel_requested = 1 WHERE id = ? AND state IN ('queued', 'running')", id) == 1;
    }

    /** Drops the results of jobs that ended before {@code cutoff}; returns how many. */
    public int expireResults(Instant cutoff) {
        return update("UPDATE jobs SET result = NULL, result_location = 'expired'"
                + " WHERE result_location = 'inline' AND finished_at < ?", cutoff.toEpochMilli());
    }

    /** Records a webhook delivery attempt. */
    public void webhookAttempt(String id, String state, int attempts, Integer lastStatus, String lastError, Instant deliveredAt) {
        update("UPDATE jobs SET webhook_state = ?, webhook_attempts = ?, webhook_last_status = ?, webhook_last_error = ?,"
                        + " webhook_delivered_at = ? WHERE id = ?",
                state, attempts, lastStatus, lastError, deliveredAt == null ? null : deliveredAt.toEpochMilli(), id);
    }

    public Optional<JobRecord> find(String id) {
        if (id == null || id.length() > 64) return Optional.empty();
        return db.with(c -> {
            try (PreparedStatement ps = c.prepareStatement("SELECT " + COLUMNS + " FROM jobs WHERE id = ?")) {
                ps.setString(1, id);
                try (ResultSet rs = ps.executeQuery()) {
                    return rs.next() ? Optional.of(read(rs)) : Optional.<JobRecord>empty();
                }
            }
        });
    }

    /** A key's jobs, newest first, up to {@code limit}, older than {@code before} if given. */
    public List<JobRecord> list(String keyId, int limit, Optional<Instant> before) {
        long key = ApiKeyStore.parseId(keyId).orElseThrow();
        return db.with(c -> {
            try (PreparedStatement ps = c.prepareStatement("SELECT " + COLUMNS + " FROM jobs WHERE key_id = ?"
                    + (before.isPresent() ? " AND created_at < ?" : "") + " ORDER BY created_at DESC, id DESC LIMIT ?")) {
                int i = 1;
                ps.setLong(i++, key);
                if (before.isPresent()) ps.setLong(i++, before.get().toEpochMilli());
                ps.setInt(i, limit);
                try (ResultSet rs = ps.executeQuery()) {
                    List<JobRecord> jobs = new ArrayList<>();
                    while (rs.next()) jobs.add(read(rs));
                    return jobs;
                }
            }
        });
    }

    /** Queued jobs that run before this one (higher priority, or the same and earlier). */
    public int queuePosition(JobRecord j) {
        return db.with(c -> {
            try (PreparedStatement ps = c.prepareStatement("SELECT COUNT(*) FROM jobs WHERE state = 'queued' AND id <> ?"
                    + " AND (priority > ? OR (priority = ? AND created_at <= ?))")) {
                ps.setString(1, j.id());
                ps.setInt(2, j.priority());
                ps.setInt(3, j.priority());
                ps.setLong(4, j.createdAt().toEpochMilli());
                try (ResultSet rs = ps.executeQuery()) {
                    rs.next();
                    return rs.getInt(1);
                }
            }
        });
    }

    /** Jobs in a state (all keys). */
    public int count(State state) {
        return db.with(c -> {
            try (PreparedStatement ps = c.prepareStatement("SELECT COUNT(*) FROM jobs WHERE state = ?")) {
                ps.setString(1, state.id());
                try (ResultSet rs = ps.executeQuery()) {
                    rs.next();
                    return rs.getInt(1);
                }
            }
        });
    }

    private int update(String sql, Object... args) {
        return db.with(c -> {
            try (PreparedStatement ps = c.prepareStatement(sql)) {
                for (int i = 0; i < args.length; i++) ps.setObject(i + 1, args[i]);
                return ps.executeUpdate();
            }
        });
    }

    private static JobRecord read(ResultSet rs) throws SQLException {
        return new JobRecord(
                rs.getString("id"),
                ApiKeyStore.publicId(rs.getLong("key_id")),
                "async".equals(rs.getString("mode")),
                rs.getString("endpoint"),
                rs.getString("model"),
                rs.getString("params"),
                rs.getInt("priority"),
                State.parse(rs.getString("state")),
                rs.getInt("step"),
                rs.getInt("total_steps"),
                rs.getString("node"),
                rs.getInt("cancel_requested") == 1,
                Instant.ofEpochMilli(rs.getLong("created_at")),
                instant(rs, "started_at"),
                instant(rs, "finished_at"),
                Instant.ofEpochMilli(rs.getLong("deadline")),
                rs.getString("result_location"),
                rs.getString("result"),
                rs.getString("error"),
                integer(rs, "http_status"),
                rs.getString("webhook_url"),
                rs.getString("webhook_state"),
                rs.getInt("webhook_attempts"),
                integer(rs, "webhook_last_status"),
                rs.getString("webhook_last_error"),
                instant(rs, "webhook_delivered_at"));
    }

    private static Optional<Instant> instant(ResultSet rs, String column) throws SQLException {
        long v = rs.getLong(column);
        return rs.wasNull() ? Optional.empty() : Optional.of(Instant.ofEpochMilli(v));
    }

    private static Integer integer(ResultSet rs, String column) throws SQLException {
        int v = rs.getInt(column);
        return rs.wasNull() ? null : v;
    }
}
