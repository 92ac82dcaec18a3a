-- API keys: only the SHA-256 of each secret is stored.
CREATE TABLE api_keys (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    secret_hash TEXT    NOT NULL UNIQUE,
    name        TEXT    NOT NULL,
    tier        TEXT    NOT NULL,
    admin       INTEGER NOT NULL DEFAULT 0,
    created_at  INTEGER NOT NULL, -- epoch milliseconds
    revoked_at  INTEGER
);

-- One row per finished job (succeeded, failed, cancelled or timed out).
CREATE TABLE usage (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    key_id     INTEGER NOT NULL REFERENCES api_keys (id),
    at         INTEGER NOT NULL, -- epoch milliseconds
    endpoint   TEXT    NOT NULL, -- generations | edits
    model      TEXT    NOT NULL,
    outcome    TEXT    NOT NULL,
    images     INTEGER NOT NULL,
    pixels     INTEGER NOT NULL,
    compute_ms INTEGER NOT NULL,
    end_user   TEXT
);

CREATE INDEX usage_by_key_and_time ON usage (key_id, at);
