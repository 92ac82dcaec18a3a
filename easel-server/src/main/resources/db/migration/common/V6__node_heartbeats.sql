-- The nodes sharing the database, each with a heartbeat: a node renews expires_at while it lives (jobs.lease-seconds
-- ahead). A synchronous job belongs to its accepting node's connection: once that node's heartbeat has expired, or the
-- node restarted under the same name (started_at after the job was accepted), nobody waits for the job, and it is
-- cancelled instead of run.
CREATE TABLE nodes (
    name       VARCHAR(255) PRIMARY KEY,
    started_at BIGINT       NOT NULL, -- epoch milliseconds, this incarnation's start
    expires_at BIGINT       NOT NULL  -- epoch milliseconds; past it the node counts as dead
);
