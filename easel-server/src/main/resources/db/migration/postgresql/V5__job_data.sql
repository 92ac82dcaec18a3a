-- Binary data of a job that another node may need: an edit's input image and mask ('input'), and the images of a
-- synchronous job that one node ran for another node's client ('handoff', deleted once that client has them).
CREATE TABLE job_data (
    job_id VARCHAR(64) NOT NULL REFERENCES jobs (id),
    kind   VARCHAR(16) NOT NULL,
    data   BYTEA       NOT NULL,
    PRIMARY KEY (job_id, kind)
);

-- Every node LISTENs on easel_jobs: a new job ('queued <id>') wakes the idle devices, an ended one
-- ('succeeded <id>', 'failed <id>', 'cancelled <id>') wakes the node whose client waits for it. Sent on commit.
CREATE FUNCTION easel_jobs_notify() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'INSERT' OR NEW.state IS DISTINCT FROM OLD.state THEN
        PERFORM pg_notify('easel_jobs', NEW.state || ' ' || NEW.id);
    END IF;
    RETURN NEW;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER jobs_notify AFTER INSERT OR UPDATE OF state ON jobs
    FOR EACH ROW EXECUTE FUNCTION easel_jobs_notify();
