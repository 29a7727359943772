-- CSV exports; see the PostgreSQL migration of the same name.
CREATE TABLE exports (
    id              BLOB PRIMARY KEY,
    organization_id BLOB NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    kind            TEXT NOT NULL CHECK (kind IN ('products', 'orders', 'timeseries', 'advice')),
    filters         TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('queued', 'running', 'ready', 'failed', 'expired')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    rows_written    INTEGER,
    bytes_written   INTEGER,
    blob_name       TEXT,
    error           TEXT,
    created_at      TEXT NOT NULL,
    lease_until     TEXT,
    finished_at     TEXT,
    expires_at      TEXT
) STRICT;
CREATE INDEX exports_by_organization ON exports (organization_id, created_at DESC, id DESC);
CREATE INDEX exports_pending ON exports (lease_until) WHERE status IN ('queued', 'running');
CREATE INDEX exports_expiring ON exports (expires_at) WHERE status = 'ready';
