-- Images answered with response_format=url, in the database so that every node sharing it serves every link (a load
-- balancer may send the GET anywhere). Deleted once expired (images.url-ttl-seconds). Twin of sqlite/V6_1 (BYTEA).
CREATE TABLE url_images (
    name         VARCHAR(64) PRIMARY KEY, -- <43 random url-safe base64 characters>.<png|jpeg|webp>, the link's last part
    content_type VARCHAR(32) NOT NULL,
    data         BYTEA       NOT NULL,
    created_at   BIGINT      NOT NULL,    -- epoch milliseconds
    expires_at   BIGINT      NOT NULL
);

CREATE INDEX url_images_by_expiry ON url_images (expires_at);
