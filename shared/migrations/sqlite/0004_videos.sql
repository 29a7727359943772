-- Product videos: one row per upload. The blob's ETag and Event Grid sequencer record which version of the blob the
-- analysis belongs to, so a redelivered, retried or out-of-order BlobCreated event is a no-op.
CREATE TABLE videos (
    id              BLOB PRIMARY KEY,
    organization_id BLOB NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    product_id      BLOB,
    file_name       TEXT NOT NULL,
    content_type    TEXT NOT NULL,
    size_bytes      INTEGER NOT NULL CHECK (size_bytes >= 0),
    blob_name       TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('pending', 'analyzing', 'ready', 'failed')),
    etag            TEXT,
    sequencer       TEXT,
    probe           TEXT,
    failure_reason  TEXT,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    analyzed_at     TEXT,
    UNIQUE (organization_id, id)
) STRICT;
CREATE INDEX videos_by_created ON videos (organization_id, created_at DESC, id DESC);
