-- PostgreSQL twin of sqlite/V1 (only the key columns differ: BIGSERIAL for SQLite's AUTOINCREMENT).
-- API keys: only the SHA-256 of each secret is stored.
CREATE TABLE api_keys (
    id          BIGSERIAL PRIMARY KEY,
    secret_hash TEXT    NOT NULL UNIQUE,
    name        TEXT    NOT NULL,
    tier        TEXT    NOT NULL,
    admin       INTEGER NOT NULL DEFAULT 0,
    created_at  BIGINT  NOT NULL, -- epoch milliseconds
    revoked_at  BIGINT
);

-- One row per finished job (succeeded, failed, cancelled or timed out).
CREATE TABLE usage (
    id         BIGSERIAL PRIMARY KEY,
    key_id     BIGINT  NOT NULL REFERENCES api_keys (id),
    at         BIGINT  NOT NULL, -- epoch milliseconds
    endpoint   TEXT    NOT NULL, -- generations | edits
    model      TEXT    NOT NULL,
    outcome    TEXT    NOT NULL,
    images     INTEGER NOT NULL,
    pixels     BIGINT  NOT NULL,
    compute_ms BIGINT  NOT NULL,
    end_user   TEXT
);

CREATE INDEX usage_by_key_and_time ON usage (key_id, at);
