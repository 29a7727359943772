-- Order refreshes; see the PostgreSQL migration of the same name. SQLite changes a CHECK by rebuilding the table.
CREATE TABLE sync_refresh_queue_next (
    organization_id BLOB NOT NULL,
    store_id        BLOB NOT NULL,
    kind            TEXT NOT NULL CHECK (kind IN ('product', 'inventory_item', 'order')),
    external_id     TEXT NOT NULL,
    queued_at       TEXT NOT NULL,
    PRIMARY KEY (store_id, kind, external_id),
    FOREIGN KEY (organization_id, store_id) REFERENCES stores (organization_id, id) ON DELETE CASCADE
) STRICT;
INSERT INTO sync_refresh_queue_next SELECT organization_id, store_id, kind, external_id, queued_at FROM sync_refresh_queue;
DROP TABLE sync_refresh_queue;
ALTER TABLE sync_refresh_queue_next RENAME TO sync_refresh_queue;
