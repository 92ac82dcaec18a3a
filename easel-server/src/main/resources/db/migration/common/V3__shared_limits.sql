-- Per-key limits that hold across every node sharing the database (used when the database is PostgreSQL).

-- Requests per minute: a token bucket per key (refilled continuously, full at first use).
CREATE TABLE rate_buckets (
    key_id     BIGINT           PRIMARY KEY REFERENCES api_keys (id),
    tokens     DOUBLE PRECISION NOT NULL,
    updated_at BIGINT           NOT NULL -- epoch milliseconds
);

-- Concurrent jobs and reserved images: one lease per accepted job, renewed by its node while the job lives, so the
-- places held by a node that died free themselves when its leases expire.
CREATE TABLE limit_leases (
    id         VARCHAR(64) PRIMARY KEY,
    key_id     BIGINT      NOT NULL REFERENCES api_keys (id),
    node       TEXT        NOT NULL,
    images     INTEGER     NOT NULL,
    expires_at BIGINT      NOT NULL -- epoch milliseconds
);

CREATE INDEX limit_leases_by_key ON limit_leases (key_id, expires_at);
CREATE INDEX limit_leases_by_node ON limit_leases (node);
