-- Binary data of a job that another node may need: an edit's input image and mask ('input'), and the images of a
-- synchronous job that one node ran for another node's client ('handoff', deleted once that client has them).
CREATE TABLE job_data (
    job_id VARCHAR(64) NOT NULL REFERENCES jobs (id),
    kind   VARCHAR(16) NOT NULL,
    data   BLOB        NOT NULL,
    PRIMARY KEY (job_id, kind)
);
