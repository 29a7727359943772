-- Product videos: one row per upload. The blob's ETag and Event Grid sequencer record which version of the blob the
-- analysis belongs to, so a redelivered, retried or out-of-order BlobCreated event is a no-op.
CREATE TABLE videos (
    id              uuid PRIMARY KEY,
    organization_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    product_id      uuid,              -- checked against the organization's products when set; kept if one is deleted
    file_name       text NOT NULL,
    content_type    text NOT NULL,
    size_bytes      bigint NOT NULL CHECK (size_bytes >= 0),   -- as declared at creation
    blob_name       text NOT NULL,     -- within the videos container: <organization>/<video>.<ext>
    status          text NOT NULL CHECK (status IN ('pending', 'analyzing', 'ready', 'failed')),
    etag            text,              -- the blob version analysed (or being analysed)
    sequencer       text,              -- Event Grid's ordering key for that version
    probe           text,              -- the probe result, JSON
    failure_reason  text,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL,
    analyzed_at     timestamptz,
    UNIQUE (organization_id, id)
);
CREATE INDEX videos_by_created ON videos (organization_id, created_at DESC, id DESC);
