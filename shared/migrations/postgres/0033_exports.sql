-- CSV exports: a request is recorded here when it is made and queued; the queue-triggered `WriteExport` function
-- writes the file to blob storage and marks it ready; the `SweepExports` timer queues again a request whose message
-- was lost and deletes the files of expired exports (the row stays, `expired`, as the record of what was taken).
CREATE TABLE exports (
    id              uuid PRIMARY KEY,
    organization_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    kind            text NOT NULL CHECK (kind IN ('products', 'orders', 'timeseries', 'advice')),
    filters         text NOT NULL,   -- the parsed filters, as JSON
    status          text NOT NULL CHECK (status IN ('queued', 'running', 'ready', 'failed', 'expired')),
    attempts        integer NOT NULL DEFAULT 0,
    rows_written    bigint,
    bytes_written   bigint,
    blob_name       text,
    error           text,
    created_at      timestamptz NOT NULL,
    lease_until     timestamptz,     -- queued: when to queue it again; running: when a crashed writer's claim lapses
    finished_at     timestamptz,
    expires_at      timestamptz
);
CREATE INDEX exports_by_organization ON exports (organization_id, created_at DESC, id DESC);
CREATE INDEX exports_pending ON exports (lease_until) WHERE status IN ('queued', 'running');
CREATE INDEX exports_expiring ON exports (expires_at) WHERE status = 'ready';
