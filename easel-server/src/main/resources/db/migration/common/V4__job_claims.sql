-- One queue for every node sharing the database: a queued job is claimed by whichever node's device is free
-- (highest priority, then arrival), which holds it by a lease it renews while the job runs. A job whose lease
-- expired (its node died) is claimed again; attempt numbers the claims, so only the latest one may end it.
ALTER TABLE jobs ADD COLUMN spec TEXT;                           -- the job as any node runs it (JSON; inputs in job_data)
ALTER TABLE jobs ADD COLUMN accepted_by TEXT;                    -- the node that accepted it (whose client waits, if sync)
ALTER TABLE jobs ADD COLUMN attempt INTEGER NOT NULL DEFAULT 0; -- claims so far
ALTER TABLE jobs ADD COLUMN lease_expires_at BIGINT;             -- epoch milliseconds; a running job past it is claimed again
ALTER TABLE jobs ADD COLUMN limit_lease VARCHAR(64);             -- async: the key's limit lease, released by whoever ends it
