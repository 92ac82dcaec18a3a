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
            + " webhook_delivered_at, spec, accepted_by, attempt, lease_expires_at, limit_lease";
    /** A job any free device may take: queued, or running on a node whose lease ran out (it died). A synchronous job
     * whose runner was also its acceptor is not taken again: its client's connection died with that node. */
    private static final String CLAIMABLE = "(state = 'queued' OR (state = 'running' AND lease_expires_at < ?"
            + " AND NOT (mode = 'sync' AND accepted_by = node)))";
    /** A synchronous job whose accepting node is dead (heartbeat expired before ?) or restarted since: nobody waits. */
    private static final String ACCEPTOR_GONE = "(mode = 'sync' AND EXISTS (SELECT 1 FROM nodes n WHERE n.name = jobs.accepted_by"
            + " AND (n.expires_at < ? OR n.started_at > jobs.created_at)))";
    private static final String QUEUE_ORDER = " ORDER BY priority DESC, created_at, id";
    /** The advisory lock (PostgreSQL) that makes "count the queued jobs, then insert" one step for every node. */
    private static final long QUEUE_LOCK = 0x65617365_6c717565L; // "easelque"

    private final Database db;
    /** Claims lock the rows they look at; other nodes skip them instead of waiting (SQLite has one writer anyway). */
    private final String skipLocked;

    public JobStore(Database db) {
        this.db = db;
        this.skipLocked = db.dialect() == Database.Dialect.POSTGRESQL ? " FOR UPDATE SKIP LOCKED" : "";
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

    /**
     * What is known of a job when it is accepted.
     *
     * @param specJson   the job as any node can run it (null: only the accepting node runs it)
     * @param acceptedBy the accepting node
     * @param limitLease the key's limit lease the job holds, released by whoever ends it (async jobs of shared databases)
     */
    public record NewJob(String id, String keyId, boolean async, String endpoint, String model, String paramsJson,
                         int priority, Instant createdAt, Instant deadline, String webhookUrl, String specJson,
                         String acceptedBy, String limitLease) {
        public NewJob(String id, String keyId, boolean async, String endpoint, String model, String paramsJson,
                      int priority, Instant createdAt, Instant deadline, String webhookUrl) {
            this(id, keyId, async, endpoint, model, paramsJson, priority, createdAt, deadline, webhookUrl, null, null, null);
        }
    }

    /** One row. */
    public record JobRecord(String id, String keyId, boolean async, String endpoint, String model, String paramsJson,
                            int priority, State state, int step, int totalSteps, String node, boolean cancelRequested,
                            Instant createdAt, Optional<Instant> startedAt, Optional<Instant> finishedAt, Instant deadline,
                            String resultLocation, String resultJson, String errorJson, Integer httpStatus,
                            String webhookUrl, String webhookState, int webhookAttempts, Integer webhookLastStatus,
                            String webhookLastError, Optional<Instant> webhookDeliveredAt, String specJson,
                            String acceptedBy, int attempt, Optional<Instant> leaseExpiresAt, String limitLease) {
    }

    public void insert(NewJob j) {
        insert(j, null);
    }

    /** Inserts a job with an edit's {@code inputs} ({@link JobBlobs}), at once: no node can claim it without them. */
    public void insert(NewJob j, byte[] inputs) {
        db.transaction(c -> {
            insertRow(c, j, inputs);
            return null;
        });
    }

    /**
     * Inserts a job unless {@code capacity} jobs (every node's) are queued already; false then, and nothing written.
     * Counting and inserting are one step across all nodes, so the bound is exact: on PostgreSQL a transaction-scoped
     * advisory lock lets one insert through at a time (held only while its transaction lasts); SQLite has one writer.
     */
    public boolean insertIfRoom(NewJob j, byte[] inputs, int capacity) {
        return db.exclusiveTransaction(QUEUE_LOCK, c -> {
            try (PreparedStatement ps = c.prepareStatement("SELECT COUNT(*) FROM jobs WHERE state = 'queued'");
                 ResultSet rs = ps.executeQuery()) {
                rs.next();
                if (rs.getInt(1) >= capacity) return false;
            }
            insertRow(c, j, inputs);
            return true;
        });
    }

    private static void insertRow(java.sql.Connection c, NewJob j, byte[] inputs) throws SQLException {
        long key = ApiKeyStore.parseId(j.keyId()).orElseThrow(() -> new IllegalArgumentException("bad key id " + j.keyId()));
        try (PreparedStatement ps = c.prepareStatement(
                "INSERT INTO jobs (id, key_id, mode, endpoint, model, params, priority, state, created_at, deadline,"
                        + " webhook_url, webhook_state, spec, accepted_by, limit_lease)"
                        + " VALUES (?, ?, ?, ?, ?, ?, ?, 'queued', ?, ?, ?, ?, ?, ?, ?)")) {
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
            ps.setString(12, j.specJson());
            ps.setString(13, j.acceptedBy());
            ps.setString(14, j.limitLease());
            ps.executeUpdate();
        }
        if (inputs != null) putData(c, j.id(), "input", inputs);
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
                        + " WHERE id = ? AND (state IN ('queued', 'running') OR (state = 'cancelled' AND error IS NULL))",
                state.id(), resultLocation, resultJson, errorJson, httpStatus, now.toEpochMilli(), id) == 1;
    }

    /** Marks a job for cancellation (whichever node runs it stops it); false if it has ended. */
    public boolean requestCancel(String id) {
        return update("UPDATE jobs SET cancel_requested = 1 WHERE id = ? AND state IN ('queued', 'running')", id) == 1;
    }

    /**
     * Drops the results of jobs that ended before {@code cutoff}, and their binary data (inputs, and hand-overs that
     * no node collected: its client had gone); returns how many results.
     */
    public int expireResults(Instant cutoff) {
        update("DELETE FROM job_data WHERE job_id IN (SELECT id FROM jobs WHERE finished_at < ?)", cutoff.toEpochMilli());
        return update("UPDATE jobs SET result = NULL, result_location = 'expired'"
                + " WHERE result_location IN ('inline', 'handoff') AND finished_at < ?", cutoff.toEpochMilli());
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

    // ---- claims: one queue for every node sharing the database ----

    /**
     * Claims the job that runs next (highest priority, then arrival): queued, or running with an expired lease. It is
     * marked running on {@code node}, with a lease until {@code now + lease} and its attempt counted.
     *
     * @param acceptedBy when set, only jobs this node accepted (a draining node finishes its own clients' jobs)
     */
    public Optional<JobRecord> claimNext(String node, Instant now, java.time.Duration lease, String acceptedBy) {
        return db.transaction(c -> {
            String id;
            try (PreparedStatement ps = c.prepareStatement("SELECT id FROM jobs WHERE " + CLAIMABLE + " AND NOT " + ACCEPTOR_GONE
                    + (acceptedBy != null ? " AND accepted_by = ?" : "") + QUEUE_ORDER + " LIMIT 1" + skipLocked)) {
                ps.setLong(1, now.toEpochMilli());
                ps.setLong(2, now.toEpochMilli());
                if (acceptedBy != null) ps.setString(3, acceptedBy);
                try (ResultSet rs = ps.executeQuery()) {
                    if (!rs.next()) return Optional.<JobRecord>empty();
                    id = rs.getString(1);
                }
            }
            return Optional.of(claim(c, id, node, now, lease));
        });
    }

    /**
     * Claims, in queue order, the queued generations of {@code model} that {@code take} accepts (it is asked about each
     * candidate in turn, up to {@code limit} of them, and may keep state: an image budget). For a batch: its head
     * is claimed first, then the jobs that can join it.
     */
    public List<JobRecord> claimMatching(String node, String model, Instant now, java.time.Duration lease, int limit,
                                         java.util.function.Predicate<JobRecord> take) {
        return db.transaction(c -> {
            List<JobRecord> candidates = new ArrayList<>();
            try (PreparedStatement ps = c.prepareStatement("SELECT " + COLUMNS + " FROM jobs WHERE state = 'queued'"
                    + " AND endpoint = 'generations' AND model = ? AND NOT " + ACCEPTOR_GONE + QUEUE_ORDER + " LIMIT ?" + skipLocked)) {
                ps.setString(1, model);
                ps.setLong(2, now.toEpochMilli());
                ps.setInt(3, limit);
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) candidates.add(read(rs));
                }
            }
            List<JobRecord> claimed = new ArrayList<>();
            for (JobRecord r : candidates) {
                if (take.test(r)) claimed.add(claim(c, r.id(), node, now, lease));
            }
            return claimed;
        });
    }

    private JobRecord claim(java.sql.Connection c, String id, String node, Instant now, java.time.Duration lease)
            throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("UPDATE jobs SET state = 'running', node = ?, attempt = attempt + 1,"
                + " lease_expires_at = ?, started_at = ?, step = 0, total_steps = 0 WHERE id = ?")) {
            ps.setString(1, node);
            ps.setLong(2, now.plus(lease).toEpochMilli());
            ps.setLong(3, now.toEpochMilli());
            ps.setString(4, id);
            ps.executeUpdate();
        }
        try (PreparedStatement ps = c.prepareStatement("SELECT " + COLUMNS + " FROM jobs WHERE id = ?")) {
            ps.setString(1, id);
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                return read(rs);
            }
        }
    }

    /** Extends the leases of the jobs running on {@code node}; returns how many. */
    public int renewClaims(String node, Instant until) {
        return update("UPDATE jobs SET lease_expires_at = ? WHERE node = ? AND state = 'running'", until.toEpochMilli(), node);
    }

    /** Where a claimed job stands, as its runner checks at each step. */
    public record ClaimState(String id, State state, String node, int attempt, boolean cancelRequested) {
    }

    public List<ClaimState> claimStates(java.util.Collection<String> ids) {
        if (ids.isEmpty()) return List.of();
        String marks = String.join(", ", java.util.Collections.nCopies(ids.size(), "?"));
        return db.with(c -> {
            try (PreparedStatement ps = c.prepareStatement(
                    "SELECT id, state, node, attempt, cancel_requested FROM jobs WHERE id IN (" + marks + ")")) {
                int i = 1;
                for (String id : ids) ps.setString(i++, id);
                try (ResultSet rs = ps.executeQuery()) {
                    List<ClaimState> out = new ArrayList<>();
                    while (rs.next()) {
                        out.add(new ClaimState(rs.getString(1), State.parse(rs.getString(2)), rs.getString(3), rs.getInt(4),
                                rs.getInt(5) == 1));
                    }
                    return out;
                }
            }
        });
    }

    /**
     * Ends a claimed job, only for the claim that runs it now ({@code attempt}): a node whose lease ran out and whose
     * job was claimed again cannot end it too.
     */
    public boolean finishClaim(String id, int attempt, State state, String resultLocation, String resultJson,
                               String errorJson, Integer httpStatus, Instant now) {
        if (!state.ended()) throw new IllegalArgumentException(state + " is not an end state");
        return update("UPDATE jobs SET state = ?, result_location = ?, result = ?, error = ?, http_status = ?, finished_at = ?"
                        + " WHERE id = ? AND state = 'running' AND attempt = ?",
                state.id(), resultLocation, resultJson, errorJson, httpStatus, now.toEpochMilli(), id, attempt) == 1;
    }

    /**
     * Ends a synchronous job that this node ran for another node's client: succeeded, its images handed over in
     * job_data ('handoff') and its recipe in {@code resultJson}, until that node has answered ({@link #clearHandoff}).
     */
    public boolean finishHandoff(String id, int attempt, String resultJson, byte[] images, Instant now) {
        return db.transaction(c -> {
            try (PreparedStatement ps = c.prepareStatement("UPDATE jobs SET state = 'succeeded', result_location = 'handoff',"
                    + " result = ?, http_status = 200, finished_at = ? WHERE id = ? AND state = 'running' AND attempt = ?")) {
                ps.setString(1, resultJson);
                ps.setLong(2, now.toEpochMilli());
                ps.setString(3, id);
                ps.setInt(4, attempt);
                if (ps.executeUpdate() != 1) return false;
            }
            putData(c, id, "handoff", images);
            return true;
        });
    }

    /** The handed-over images of a synchronous job went out on its connection: only how it ended stays. */
    public void clearHandoff(String id) {
        db.transaction(c -> {
            try (PreparedStatement ps = c.prepareStatement("DELETE FROM job_data WHERE job_id = ? AND kind = 'handoff'")) {
                ps.setString(1, id);
                ps.executeUpdate();
            }
            try (PreparedStatement ps = c.prepareStatement(
                    "UPDATE jobs SET result = NULL, result_location = 'response' WHERE id = ? AND result_location = 'handoff'")) {
                ps.setString(1, id);
                return ps.executeUpdate();
            }
        });
    }

    /**
     * Cancels a job that no node has claimed yet, so that none will; false if it was claimed or had ended. Its error
     * body is written by {@link #finish} next (a cancelled job without one may still be ended once).
     */
    public boolean cancelQueued(String id, Instant now) {
        return cancelQueued(id, null, null, now);
    }

    /** Cancels a job that no node has claimed yet, with its error body; false if it was claimed or had ended. */
    public boolean cancelQueued(String id, String errorJson, Integer httpStatus, Instant now) {
        return update("UPDATE jobs SET state = 'cancelled', error = ?, http_status = ?, finished_at = ?"
                + " WHERE id = ? AND state = 'queued'", errorJson, httpStatus, now.toEpochMilli(), id) == 1;
    }

    /**
     * Fails the synchronous jobs whose node died while running them for its own client: nobody is left to answer.
     * Returns their ids.
     */
    public List<String> failOrphans(Instant now, String errorJson, int httpStatus) {
        return db.transaction(c -> {
            List<String> ids = new ArrayList<>();
            try (PreparedStatement ps = c.prepareStatement("SELECT id FROM jobs WHERE state = 'running' AND lease_expires_at < ?"
                    + " AND mode = 'sync' AND accepted_by = node" + skipLocked)) {
                ps.setLong(1, now.toEpochMilli());
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) ids.add(rs.getString(1));
                }
            }
            for (String id : ids) {
                try (PreparedStatement ps = c.prepareStatement("UPDATE jobs SET state = 'failed', error = ?, http_status = ?,"
                        + " finished_at = ? WHERE id = ? AND state = 'running'")) {
                    ps.setString(1, errorJson);
                    ps.setInt(2, httpStatus);
                    ps.setLong(3, now.toEpochMilli());
                    ps.setString(4, id);
                    ps.executeUpdate();
                }
            }
            return ids;
        });
    }

    // ---- streamed previews of a synchronous job that one node runs for another node's client ----

    /** A row of job_data: its kind and bytes. */
    public record DataRow(String kind, byte[] data) {
    }

    /** The kind of a job's preview rows: claim attempt then sequence, zero-padded digits so they sort in order. */
    public static String previewKind(int attempt, int sequence) {
        return String.format(java.util.Locale.ROOT, "pv%03d%06d", attempt, sequence);
    }

    /**
     * Stores one preview of a job ({@link #previewKind}) and, on PostgreSQL, announces it ({@code preview <id>} on
     * the jobs channel, sent on commit: the preview is readable when the accepting node hears of it).
     */
    public void publishPreview(String id, String kind, byte[] data) {
        db.transaction(c -> {
            putData(c, id, kind, data);
            if (db.dialect() == Database.Dialect.POSTGRESQL) {
                try (PreparedStatement ps = c.prepareStatement("SELECT pg_notify(?, ?)")) {
                    ps.setString(1, JobEvents.CHANNEL);
                    ps.setString(2, "preview " + id);
                    ps.executeQuery().close();
                }
            }
            return null;
        });
    }

    /** A job's previews stored after {@code afterKind} (start with "pv"), in the order they were made. */
    public List<DataRow> previewsAfter(String id, String afterKind) {
        return db.with(c -> {
            try (PreparedStatement ps = c.prepareStatement("SELECT kind, data FROM job_data WHERE job_id = ?"
                    + " AND kind LIKE 'pv%' AND kind > ? ORDER BY kind")) {
                ps.setString(1, id);
                ps.setString(2, afterKind);
                try (ResultSet rs = ps.executeQuery()) {
                    List<DataRow> rows = new ArrayList<>();
                    while (rs.next()) rows.add(new DataRow(rs.getString(1), rs.getBytes(2)));
                    return rows;
                }
            }
        });
    }

    /** The job's previews went out to its client (or it ended without one): they are deleted. */
    public int clearPreviews(String id) {
        return update("DELETE FROM job_data WHERE job_id = ? AND kind LIKE 'pv%'", id);
    }

    // ---- node heartbeats: who may still answer a synchronous job ----

    /** This node starts (a new incarnation if it ran before under the same name), alive until {@code expires}. */
    public void nodeStarted(String node, Instant now, Instant expires) {
        update("INSERT INTO nodes (name, started_at, expires_at) VALUES (?, ?, ?)"
                        + " ON CONFLICT (name) DO UPDATE SET started_at = excluded.started_at, expires_at = excluded.expires_at",
                node, now.toEpochMilli(), expires.toEpochMilli());
    }

    /** This node is alive until {@code expires}. */
    public void nodeAlive(String node, Instant expires) {
        update("UPDATE nodes SET expires_at = ? WHERE name = ?", expires.toEpochMilli(), node);
    }

    /** This node stopped: its heartbeat ends now, so its clients' jobs left behind are cancelled at once. */
    public void nodeStopped(String node, Instant now) {
        update("UPDATE nodes SET expires_at = ? WHERE name = ?", now.toEpochMilli() - 1, node);
    }

    /**
     * Cancels the synchronous jobs whose accepting node is dead or restarted ({@link #ACCEPTOR_GONE}): still queued, or
     * running anywhere (its runner sees the job ended at its next step and stops). Nobody waits for their images.
     * Returns how many.
     */
    public int cancelAcceptorGone(Instant now, String errorJson, int httpStatus) {
        return update("UPDATE jobs SET state = 'cancelled', error = ?, http_status = ?, finished_at = ?"
                + " WHERE state IN ('queued', 'running') AND " + ACCEPTOR_GONE,
                errorJson, httpStatus, now.toEpochMilli(), now.toEpochMilli());
    }

    /** Stores binary data of a job ({@code kind}: 'input' or 'handoff'). */
    public void saveData(String id, String kind, byte[] data) {
        db.with(c -> {
            putData(c, id, kind, data);
            return null;
        });
    }

    public Optional<byte[]> data(String id, String kind) {
        return db.with(c -> {
            try (PreparedStatement ps = c.prepareStatement("SELECT data FROM job_data WHERE job_id = ? AND kind = ?")) {
                ps.setString(1, id);
                ps.setString(2, kind);
                try (ResultSet rs = ps.executeQuery()) {
                    return rs.next() ? Optional.of(rs.getBytes(1)) : Optional.<byte[]>empty();
                }
            }
        });
    }

    private static void putData(java.sql.Connection c, String id, String kind, byte[] data) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("INSERT INTO job_data (job_id, kind, data) VALUES (?, ?, ?)")) {
            ps.setString(1, id);
            ps.setString(2, kind);
            ps.setBytes(3, data);
            ps.executeUpdate();
        }
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
                instant(rs, "webhook_delivered_at"),
                rs.getString("spec"),
                rs.getString("accepted_by"),
                rs.getInt("attempt"),
                instant(rs, "lease_expires_at"),
                rs.getString("limit_lease"));
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
