-- Store sync: how a store is reached, where its sync stands, who holds it, what each run did, and which webhook
-- deliveries were already applied. Credentials live in the secrets port; `credential_ref` is only their name there.
-- Every row carries its organization; every query filters on it (the timer's lease query is the one cross-tenant
-- read, and it returns rows that then scope every later query).

CREATE TABLE store_connections (
    store_id             uuid PRIMARY KEY,
    organization_id      uuid NOT NULL,
    platform             text NOT NULL CHECK (platform IN ('shopify', 'woocommerce')),
    address              text NOT NULL,          -- shop domain (Shopify) or site URL (WooCommerce), normalised
    credential_ref       text NOT NULL,          -- secret name in the secrets port
    status               text NOT NULL DEFAULT 'enabled' CHECK (status IN ('enabled', 'disabled')),
    disabled_reason      text,
    next_sync_at         timestamptz NOT NULL,
    lease_owner          uuid,
    lease_expires_at     timestamptz,
    checkpoint           text NOT NULL DEFAULT '{}',   -- JSON: per resource, watermark and the pass in progress
    consecutive_failures integer NOT NULL DEFAULT 0,
    last_completed_at    timestamptz,
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (organization_id, store_id) REFERENCES stores (organization_id, id) ON DELETE CASCADE,
    UNIQUE (organization_id, platform, address)
);
CREATE INDEX store_connections_due ON store_connections (next_sync_at) WHERE status = 'enabled';
CREATE INDEX store_connections_by_address ON store_connections (platform, address);

CREATE TABLE sync_jobs (
    id              uuid PRIMARY KEY,
    organization_id uuid NOT NULL,
    store_id        uuid NOT NULL,
    trigger         text NOT NULL CHECK (trigger IN ('timer', 'manual')),
    status          text NOT NULL CHECK (status IN ('running', 'succeeded', 'partial', 'failed', 'interrupted')),
    owner           uuid NOT NULL,
    started_at      timestamptz NOT NULL,
    finished_at     timestamptz,
    pages           bigint NOT NULL DEFAULT 0,
    created         bigint NOT NULL DEFAULT 0,
    updated         bigint NOT NULL DEFAULT 0,
    unchanged       bigint NOT NULL DEFAULT 0,
    failed          bigint NOT NULL DEFAULT 0,
    error           text,
    FOREIGN KEY (organization_id, store_id) REFERENCES stores (organization_id, id) ON DELETE CASCADE
);
CREATE INDEX sync_jobs_by_store ON sync_jobs (organization_id, store_id, started_at DESC, id DESC);
CREATE INDEX sync_jobs_running ON sync_jobs (store_id) WHERE status = 'running';

-- One row per applied webhook delivery (Shopify event id, else webhook id; WooCommerce delivery id).
CREATE TABLE webhook_deliveries (
    organization_id uuid NOT NULL,
    store_id        uuid NOT NULL,
    delivery_key    text NOT NULL,
    topic           text NOT NULL,
    webhook_id      text,
    received_at     timestamptz NOT NULL,
    PRIMARY KEY (store_id, delivery_key),
    FOREIGN KEY (organization_id, store_id) REFERENCES stores (organization_id, id) ON DELETE CASCADE
);
CREATE INDEX webhook_deliveries_by_age ON webhook_deliveries (received_at);

-- The platform's own `updated_at` of the newest version applied per record, so an older version (a late webhook,
-- a page fetched before a webhook landed) never overwrites a newer one.
CREATE TABLE source_versions (
    organization_id uuid NOT NULL,
    store_id        uuid NOT NULL,
    kind            text NOT NULL CHECK (kind IN ('product', 'order')),
    external_id     text NOT NULL,
    updated_at      timestamptz NOT NULL,
    PRIMARY KEY (store_id, kind, external_id),
    FOREIGN KEY (organization_id, store_id) REFERENCES stores (organization_id, id) ON DELETE CASCADE
);

-- Records a webhook could not apply on its own (a variable product without its variations, an inventory level),
-- refetched by the next sync of the store.
CREATE TABLE sync_refresh_queue (
    organization_id uuid NOT NULL,
    store_id        uuid NOT NULL,
    kind            text NOT NULL CHECK (kind IN ('product', 'inventory_item')),
    external_id     text NOT NULL,
    queued_at       timestamptz NOT NULL,
    PRIMARY KEY (store_id, kind, external_id),
    FOREIGN KEY (organization_id, store_id) REFERENCES stores (organization_id, id) ON DELETE CASCADE
);
