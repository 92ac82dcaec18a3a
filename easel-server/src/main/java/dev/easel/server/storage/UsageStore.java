package dev.easel.server.storage;

import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.time.Instant;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;

/** Usage per key: one row per job, summed on demand. */
public final class UsageStore {
    private final Database db;

    public UsageStore(Database db) {
        this.db = db;
    }

    /** Images, pixels, compute and jobs over a period. */
    public record Totals(long jobs, long images, long pixels, long computeMillis) {
        public static final Totals ZERO = new Totals(0, 0, 0, 0);
    }

    public record Day(LocalDate date, Totals totals) {
    }

    public void record(UsageRecord r) {
        long keyId = ApiKeyStore.parseId(r.keyId()).orElseThrow(() -> new IllegalArgumentException("bad key id " + r.keyId()));
        db.with(c -> {
            try (PreparedStatement ps = c.prepareStatement(
                    "INSERT INTO usage (key_id, at, endpoint, model, outcome, images, pixels, compute_ms, end_user)"
                            + " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)")) {
                ps.setLong(1, keyId);
                ps.setLong(2, r.at().toEpochMilli());
                ps.setString(3, r.endpoint());
                ps.setString(4, r.model());
                ps.setString(5, r.outcome());
                ps.setInt(6, r.images());
                ps.setLong(7, r.pixels());
                ps.setLong(8, r.computeMillis());
                ps.setString(9, r.endUser());
                return ps.executeUpdate();
            }
        });
    }

    /** Totals of a key since {@code since} (inclusive). */
    public Totals totals(String keyId, Instant since) {
        long id = ApiKeyStore.parseId(keyId).orElseThrow();
        return db.with(c -> {
            try (PreparedStatement ps = c.prepareStatement(
                    "SELECT COUNT(*), COALESCE(SUM(images),0), COALESCE(SUM(pixels),0), COALESCE(SUM(compute_ms),0)"
                            + " FROM usage WHERE key_id = ? AND at >= ?")) {
                ps.setLong(1, id);
                ps.setLong(2, since.toEpochMilli());
                try (ResultSet rs = ps.executeQuery()) {
                    rs.next();
                    return new Totals(rs.getLong(1), rs.getLong(2), rs.getLong(3), rs.getLong(4));
                }
            }
        });
    }

    /** Daily totals (UTC days) of a key since {@code since}, oldest first, days without jobs left out. */
    public List<Day> daily(String keyId, Instant since) {
        long id = ApiKeyStore.parseId(keyId).orElseThrow();
        return db.with(c -> {
            try (PreparedStatement ps = c.prepareStatement(
                    "SELECT at / 86400000 AS day, COUNT(*), SUM(images), SUM(pixels), SUM(compute_ms)"
                            + " FROM usage WHERE key_id = ? AND at >= ? GROUP BY day ORDER BY day")) {
                ps.setLong(1, id);
                ps.setLong(2, since.toEpochMilli());
                try (ResultSet rs = ps.executeQuery()) {
                    List<Day> days = new ArrayList<>();
                    while (rs.next()) {
                        LocalDate date = LocalDate.ofEpochDay(rs.getLong(1));
                        days.add(new Day(date, new Totals(rs.getLong(2), rs.getLong(3), rs.getLong(4), rs.getLong(5))));
                    }
                    return days;
                }
            }
        });
    }

    public static Instant startOfUtcDay(Instant now) {
        return now.atZone(ZoneOffset.UTC).toLocalDate().atStartOfDay(ZoneOffset.UTC).toInstant();
    }
}
