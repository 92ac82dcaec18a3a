-- Runs unchanged on SQLite and PostgreSQL: portable types only (TEXT, INTEGER, BIGINT), epoch milliseconds.

-- Every generation and edit, synchronous or not, is a row here from the moment it is accepted.
CREATE TABLE jobs (
    id                   VARCHAR(64) PRIMARY KEY,  -- job_<random>, the public id
    key_id               BIGINT      NOT NULL REFERENCES api_keys (id),
    mode                 VARCHAR(8)  NOT NULL,     -- sync | async
    endpoint             VARCHAR(16) NOT NULL,     -- generations | edits
    model                TEXT        NOT NULL,
    params               TEXT        NOT NULL,     -- the request's parameters as JSON (input images left out)
    priority             INTEGER     NOT NULL,     -- the key's tier: higher runs first, then arrival
    state                VARCHAR(16) NOT NULL,     -- queued | running | succeeded | failed | cancelled
    step                 INTEGER     NOT NULL DEFAULT 0,
    total_steps          INTEGER     NOT NULL DEFAULT 0,
    node                 TEXT,                     -- the node that ran it
    cancel_requested     INTEGER     NOT NULL DEFAULT 0,
    created_at           BIGINT      NOT NULL,
    started_at           BIGINT,
    finished_at          BIGINT,
    deadline             BIGINT      NOT NULL,
    result_location      TEXT,                     -- inline (result below) | response (sync: sent on the connection) | expired
    result               TEXT,                     -- async: the body the synchronous call returns, until images.url-ttl-seconds
    error                TEXT,                     -- the OpenAI error body of a failed or cancelled job
    http_status          INTEGER,
    webhook_url          TEXT,
    webhook_state        VARCHAR(16),              -- pending | delivered | failed
    webhook_attempts     INTEGER     NOT NULL DEFAULT 0,
    webhook_last_status  INTEGER,
    webhook_last_error   TEXT,
    webhook_delivered_at BIGINT
);

CREATE INDEX jobs_by_key ON jobs (key_id, created_at);
CREATE INDEX jobs_queue ON jobs (state, priority, created_at);

-- Per key: the default webhook URL and the signing secret (needed in clear to sign; shown to the owner once).
ALTER TABLE api_keys ADD COLUMN webhook_url TEXT;
ALTER TABLE api_keys ADD COLUMN webhook_secret TEXT;
