package dev.easel.server.storage;

import org.postgresql.PGConnection;
import org.postgresql.PGNotification;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.function.BiConsumer;

/**
 * Listens to the job changes other nodes make (PostgreSQL {@code LISTEN easel_jobs}, sent by the jobs table's
 * trigger on commit) on a connection of its own, and hands each one, as (state, job id), to {@code handler} on
 * its own thread. A lost connection is opened again; what was missed meanwhile is found by the callers' own
 * periodic checks, which this only makes faster.
 */
public final class JobEvents implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(JobEvents.class);
    public static final String CHANNEL = "easel_jobs";

    private final Database db;
    private final BiConsumer<String, String> handler;
    private final Thread thread;
    private volatile boolean closed;

    public JobEvents(Database db, BiConsumer<String, String> handler) {
        this.db = db;
        this.handler = handler;
        this.thread = Thread.ofPlatform().daemon().name("easel-job-events").unstarted(this::loop);
    }

    public JobEvents start() {
        thread.start();
        return this;
    }

    private void loop() {
        long backoff = 100;
        while (!closed) {
            try (Connection c = db.dedicatedConnection()) {
                try (Statement s = c.createStatement()) {
                    s.execute("LISTEN " + CHANNEL);
                }
                backoff = 100;
                PGConnection pg = c.unwrap(PGConnection.class);
                while (!closed) {
                    PGNotification[] events = pg.getNotifications(500);
                    if (events == null) continue;
                    for (PGNotification n : events) dispatch(n.getParameter());
                }
            } catch (SQLException e) {
                if (closed) return;
                log.warn("job events: {} (listening again in {} ms)", e.getMessage(), backoff);
                sleep(backoff);
                backoff = Math.min(5000, backoff * 2);
            }
        }
    }

    private void dispatch(String payload) {
        int space = payload.indexOf(' ');
        if (space < 0) return;
        try {
            handler.accept(payload.substring(0, space), payload.substring(space + 1));
        } catch (RuntimeException e) {
            log.error("job event {} failed", payload, e);
        }
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    @Override
    public void close() {
        closed = true; // the loop sees it within one wait for notifications
        try {
            thread.join(2000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
