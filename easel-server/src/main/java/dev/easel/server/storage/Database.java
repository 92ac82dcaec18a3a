package dev.easel.server.storage;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import dev.easel.server.config.ServerConfig;
import org.flywaydb.core.Flyway;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The store of keys, usage, limits and jobs, migrated by Flyway on open: embedded SQLite in the data dir
 * ({@code easel.db}), or a PostgreSQL that several nodes share ({@code database.url = jdbc:postgresql:...}).
 *
 * <p>SQLite: one connection serves the process (SQLite serialises writers anyway); WAL mode lets the
 * {@code easel keys} command write while a server reads. PostgreSQL: a small connection pool.
 * Migrations: {@code db/migration/common} (portable SQL) plus {@code db/migration/<dialect>} for what must differ.
 */
public final class Database implements AutoCloseable {
    public static final String FILE_NAME = "easel.db";

    public enum Dialect { SQLITE, POSTGRESQL }

    private final Dialect dialect;
    private final String url;
    private final String user;
    private final String password;
    /** SQLite: the one connection, guarded by {@link #lock}. */
    private final Connection connection;
    private final ReentrantLock lock = new ReentrantLock();
    /** PostgreSQL: the pool. */
    private final HikariDataSource pool;

    private Database(Dialect dialect, String url, String user, String password, Connection connection, HikariDataSource pool) {
        this.dialect = dialect;
        this.url = url;
        this.user = user;
        this.password = password;
        this.connection = connection;
        this.pool = pool;
    }

    /** SQLite in {@code dataDir}. */
    public static Database open(Path dataDir) {
        try {
            Files.createDirectories(dataDir);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create data dir " + dataDir, e);
        }
        String url = "jdbc:sqlite:" + dataDir.resolve(FILE_NAME).toAbsolutePath();
        migrate(url, null, null, Dialect.SQLITE);
        try {
            Connection c = DriverManager.getConnection(url);
            try (Statement s = c.createStatement()) {
                s.execute("PRAGMA journal_mode=WAL");
                s.execute("PRAGMA busy_timeout=10000");
                s.execute("PRAGMA foreign_keys=ON");
                s.execute("PRAGMA synchronous=NORMAL");
            }
            return new Database(Dialect.SQLITE, url, null, null, c, null);
        } catch (SQLException e) {
            throw new StorageException("cannot open " + url, e);
        }
    }

    /** The database the configuration names: {@code database.url}, else SQLite in the data dir. */
    public static Database open(ServerConfig config) {
        ServerConfig.Database d = config.database();
        if (d == null || !d.shared()) return open(config.dataDir());
        return openPostgres(d.url(), blankToNull(d.user()), blankToNull(d.password()), d.poolSize());
    }

    public static Database openPostgres(String url, String user, String password, int poolSize) {
        migrate(url, user, password, Dialect.POSTGRESQL);
        HikariConfig hc = new HikariConfig();
        hc.setJdbcUrl(url);
        if (user != null) hc.setUsername(user);
        if (password != null) hc.setPassword(password);
        hc.setMaximumPoolSize(poolSize);
        hc.setMinimumIdle(1);
        hc.setPoolName("easel-db");
        hc.setConnectionTimeout(10_000);
        return new Database(Dialect.POSTGRESQL, url, user, password, null, new HikariDataSource(hc));
    }

    private static void migrate(String url, String user, String password, Dialect dialect) {
        Flyway.configure()
                .dataSource(url, user, password)
                .locations("classpath:db/migration/common",
                        "classpath:db/migration/" + (dialect == Dialect.SQLITE ? "sqlite" : "postgresql"))
                .load()
                .migrate();
    }

    private static String blankToNull(String s) {
        return s == null || s.isBlank() ? null : s;
    }

    public Dialect dialect() {
        return dialect;
    }

    /** Whether other nodes may share this database (and so its queue and limits). */
    public boolean shared() {
        return dialect == Dialect.POSTGRESQL;
    }

    /** Runs {@code work} with a connection in auto-commit mode (SQLite: one caller at a time). */
    public <T> T with(SqlWork<T> work) {
        if (pool != null) {
            try (Connection c = pool.getConnection()) {
                return work.run(c);
            } catch (SQLException e) {
                throw new StorageException(e.getMessage(), e);
            }
        }
        lock.lock();
        try {
            return work.run(connection);
        } catch (SQLException e) {
            throw new StorageException(e.getMessage(), e);
        } finally {
            lock.unlock();
        }
    }

    /** Runs {@code work} in one transaction: committed if it returns, rolled back if it throws. */
    public <T> T transaction(SqlWork<T> work) {
        return with(c -> {
            c.setAutoCommit(false);
            try {
                T result = work.run(c);
                c.commit();
                return result;
            } catch (SQLException | RuntimeException e) {
                c.rollback();
                throw e;
            } finally {
                c.setAutoCommit(true);
            }
        });
    }

    /**
     * As {@link #transaction}, one at a time across every node sharing the database for the same {@code lock}: on
     * PostgreSQL under a transaction-scoped advisory lock (held until the transaction ends); SQLite has one writer. For
     * a check and the write it decides, which must not interleave with another node's.
     */
    public <T> T exclusiveTransaction(long lock, SqlWork<T> work) {
        return transaction(c -> {
            if (dialect == Dialect.POSTGRESQL) {
                try (PreparedStatement ps = c.prepareStatement("SELECT pg_advisory_xact_lock(?)")) {
                    ps.setLong(1, lock);
                    ps.execute();
                }
            }
            return work.run(c);
        });
    }

    /**
     * A connection of its own, outside the pool (PostgreSQL {@code LISTEN}); the caller closes it.
     */
    public Connection dedicatedConnection() throws SQLException {
        if (dialect != Dialect.POSTGRESQL) throw new IllegalStateException("only PostgreSQL has dedicated connections");
        java.util.Properties p = new java.util.Properties();
        if (user != null) p.setProperty("user", user);
        if (password != null) p.setProperty("password", password);
        return DriverManager.getConnection(url, p);
    }

    @Override
    public void close() {
        if (pool != null) {
            pool.close();
            return;
        }
        lock.lock();
        try {
            connection.close();
        } catch (SQLException e) {
            throw new StorageException("closing the database", e);
        } finally {
            lock.unlock();
        }
    }

    @FunctionalInterface
    public interface SqlWork<T> {
        T run(Connection connection) throws SQLException;
    }
}
