-- Store sync: see the PostgreSQL migration of the same name. SQLite has one writer at a time, so a lease is a
-- single conditional UPDATE (no SKIP LOCKED needed: no two statements run at once).

CREATE TABLE store_connections (
    store_id             BLOB PRIMARY KEY,
    organization_id      BLOB NOT NULL,
    platform             TEXT NOT NULL CHECK (platform IN ('shopify', 'woocommerce')),
    address              TEXT NOT NULL,
    credential_ref       TEXT NOT NULL,
    status               TEXT NOT NULL DEFAULT 'enabled' CHECK (status IN ('enabled', 'disabled')),
    disabled_reason      TEXT,
    next_sync_at         TEXT NOT NULL,
    lease_owner          BLOB,
    lease_expires_at     TEXT,
    checkpoint           TEXT NOT NULL DEFAULT '{}',
    consecutive_failures INTEGER NOT NULL DEFAULT 0,
    last_completed_at    TEXT,
    created_at           TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now')),
    updated_at           TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now')),
    FOREIGN KEY (organization_id, store_id) REFERENCES stores (organization_id, id) ON DELETE CASCADE,
    UNIQUE (organization_id, platform, address)
) STRICT;
CREATE INDEX store_connections_due ON store_connections (next_sync_at) WHERE status = 'enabled';
CREATE INDEX store_connections_by_address ON store_connections (platform, address);

CREATE TABLE sync_jobs (
    id              BLOB PRIMARY KEY,
    organization_id BLOB NOT NULL,
    store_id        BLOB NOT NULL,
    trigger         TEXT NOT NULL CHECK (trigger IN ('timer', 'manual')),
    status          TEXT NOT NULL CHECK (status IN ('running', 'succeeded', 'partial', 'failed', 'interrupted')),
    owner           BLOB NOT NULL,
    started_at      TEXT NOT NULL,
    finished_at     TEXT,
    pages           INTEGER NOT NULL DEFAULT 0,
    created         INTEGER NOT NULL DEFAULT 0,
    updated         INTEGER NOT NULL DEFAULT 0,
    unchanged       INTEGER NOT NULL DEFAULT 0,
    failed          INTEGER NOT NULL DEFAULT 0,
    error           TEXT,
    FOREIGN KEY (organization_id, store_id) REFERENCES stores (organization_id, id) ON DELETE CASCADE
) STRICT;
CREATE INDEX sync_jobs_by_store ON sync_jobs (organization_id, store_id, started_at DESC, id DESC);
CREATE INDEX sync_jobs_running ON sync_jobs (store_id) WHERE status = 'running';

CREATE TABLE webhook_deliveries (
    organization_id BLOB NOT NULL,
    store_id        BLOB NOT NULL,
    delivery_key    TEXT NOT NULL,
    topic           TEXT NOT NULL,
    webhook_id      TEXT,
    received_at     TEXT NOT NULL,
    PRIMARY KEY (store_id, delivery_key),
    FOREIGN KEY (organization_id, store_id) REFERENCES stores (organization_id, id) ON DELETE CASCADE
) STRICT;
CREATE INDEX webhook_deliveries_by_age ON webhook_deliveries (received_at);

CREATE TABLE source_versions (
    organization_id BLOB NOT NULL,
    store_id        BLOB NOT NULL,
    kind            TEXT NOT NULL CHECK (kind IN ('product', 'order')),
    external_id     TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    PRIMARY KEY (store_id, kind, external_id),
    FOREIGN KEY (organization_id, store_id) REFERENCES stores (organization_id, id) ON DELETE CASCADE
) STRICT;

CREATE TABLE sync_refresh_queue (
    organization_id BLOB NOT NULL,
    store_id        BLOB NOT NULL,
    kind            TEXT NOT NULL CHECK (kind IN ('product', 'inventory_item')),
    external_id     TEXT NOT NULL,
    queued_at       TEXT NOT NULL,
    PRIMARY KEY (store_id, kind, external_id),
    FOREIGN KEY (organization_id, store_id) REFERENCES stores (organization_id, id) ON DELETE CASCADE
) STRICT;
