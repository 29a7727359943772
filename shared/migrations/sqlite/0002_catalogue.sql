-- Catalogue, orders and analytics. Every row carries its organization; every query filters on it.
-- Money is integer minor units (cents) in the organization's currency. Days are 'YYYY-MM-DD' text.

CREATE TABLE stores (
    id              BLOB PRIMARY KEY,
    organization_id BLOB NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    platform        TEXT NOT NULL CHECK (platform IN ('shopify', 'woocommerce', 'demo')),
    name            TEXT NOT NULL,
    created_at      TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now')),
    UNIQUE (organization_id, id)
) STRICT;

CREATE TABLE products (
    id                BLOB PRIMARY KEY,
    organization_id   BLOB NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    store_id          BLOB NOT NULL,
    external_id       TEXT NOT NULL,
    title             TEXT NOT NULL,
    description       TEXT NOT NULL DEFAULT '',
    vendor            TEXT NOT NULL DEFAULT '',
    category          TEXT NOT NULL DEFAULT '',
    status            TEXT NOT NULL CHECK (status IN ('active', 'draft', 'archived')),
    price_minor       INTEGER,
    inventory         INTEGER NOT NULL DEFAULT 0,
    unit_cost_minor   INTEGER CHECK (unit_cost_minor >= 0),
    lead_time_days    INTEGER CHECK (lead_time_days BETWEEN 0 AND 365),
    target_cover_days INTEGER CHECK (target_cover_days BETWEEN 1 AND 365),
    created_at        TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now')),
    updated_at        TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now')),
    FOREIGN KEY (organization_id, store_id) REFERENCES stores (organization_id, id) ON DELETE CASCADE,
    UNIQUE (store_id, external_id),
    UNIQUE (organization_id, id)
) STRICT;
CREATE INDEX products_by_updated ON products (organization_id, updated_at DESC, id DESC);
CREATE INDEX products_by_title ON products (organization_id, title, id);
CREATE INDEX products_by_price ON products (organization_id, price_minor, id);

-- Full-text index over the product text, kept in step by triggers (external content: no second copy).
CREATE VIRTUAL TABLE products_fts USING fts5 (
    title, vendor_category, description,
    content = '', contentless_delete = 1, tokenize = 'porter unicode61 remove_diacritics 2'
);
CREATE TRIGGER products_fts_insert AFTER INSERT ON products BEGIN
    INSERT INTO products_fts (rowid, title, vendor_category, description)
    VALUES (new.rowid, new.title, new.vendor || ' ' || new.category, new.description);
END;
CREATE TRIGGER products_fts_delete AFTER DELETE ON products BEGIN
    DELETE FROM products_fts WHERE rowid = old.rowid;
END;
CREATE TRIGGER products_fts_update AFTER UPDATE OF title, vendor, category, description ON products BEGIN
    DELETE FROM products_fts WHERE rowid = old.rowid;
    INSERT INTO products_fts (rowid, title, vendor_category, description)
    VALUES (new.rowid, new.title, new.vendor || ' ' || new.category, new.description);
END;

CREATE TABLE variants (
    id              BLOB PRIMARY KEY,
    organization_id BLOB NOT NULL,
    product_id      BLOB NOT NULL,
    external_id     TEXT NOT NULL,
    sku             TEXT NOT NULL DEFAULT '',
    title           TEXT NOT NULL DEFAULT '',
    price_minor     INTEGER NOT NULL CHECK (price_minor >= 0),
    cost_minor      INTEGER CHECK (cost_minor >= 0),
    inventory       INTEGER NOT NULL DEFAULT 0,
    updated_at      TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now')),
    FOREIGN KEY (organization_id, product_id) REFERENCES products (organization_id, id) ON DELETE CASCADE,
    UNIQUE (product_id, external_id)
) STRICT;
CREATE INDEX variants_by_sku ON variants (organization_id, sku);

CREATE TABLE orders (
    id              BLOB PRIMARY KEY,
    organization_id BLOB NOT NULL,
    store_id        BLOB NOT NULL,
    external_id     TEXT NOT NULL,
    placed_at       TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('open', 'paid', 'fulfilled', 'cancelled', 'refunded')),
    total_minor     INTEGER NOT NULL,
    updated_at      TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now')),
    FOREIGN KEY (organization_id, store_id) REFERENCES stores (organization_id, id) ON DELETE CASCADE,
    UNIQUE (store_id, external_id),
    UNIQUE (organization_id, id)
) STRICT;
CREATE INDEX orders_by_time ON orders (organization_id, placed_at);

CREATE TABLE order_lines (
    order_id        BLOB NOT NULL,
    organization_id BLOB NOT NULL,
    line_no         INTEGER NOT NULL,
    product_id      BLOB,
    variant_id      BLOB,
    quantity        INTEGER NOT NULL CHECK (quantity > 0),
    total_minor     INTEGER NOT NULL,
    PRIMARY KEY (order_id, line_no),
    FOREIGN KEY (organization_id, order_id) REFERENCES orders (organization_id, id) ON DELETE CASCADE
) STRICT;
CREATE INDEX order_lines_by_product ON order_lines (organization_id, product_id);

CREATE TABLE analytics_events (
    organization_id BLOB NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    client_id       TEXT NOT NULL,
    kind            TEXT NOT NULL CHECK (kind IN ('view', 'add_to_cart', 'purchase')),
    product_id      BLOB,
    occurred_at     TEXT NOT NULL,
    received_at     TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now')),
    PRIMARY KEY (organization_id, client_id)
) STRICT;
CREATE INDEX analytics_events_by_time ON analytics_events (organization_id, occurred_at);

CREATE TABLE daily_totals (
    organization_id BLOB NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    day             TEXT NOT NULL,
    orders          INTEGER NOT NULL DEFAULT 0,
    units           INTEGER NOT NULL DEFAULT 0,
    revenue_minor   INTEGER NOT NULL DEFAULT 0,
    views           INTEGER NOT NULL DEFAULT 0,
    add_to_carts    INTEGER NOT NULL DEFAULT 0,
    purchases       INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (organization_id, day)
) STRICT;

CREATE TABLE daily_product_totals (
    organization_id BLOB NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    product_id      BLOB NOT NULL,
    day             TEXT NOT NULL,
    orders          INTEGER NOT NULL DEFAULT 0,
    units           INTEGER NOT NULL DEFAULT 0,
    revenue_minor   INTEGER NOT NULL DEFAULT 0,
    views           INTEGER NOT NULL DEFAULT 0,
    add_to_carts    INTEGER NOT NULL DEFAULT 0,
    purchases       INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (organization_id, product_id, day)
) STRICT;
CREATE INDEX daily_product_totals_by_day ON daily_product_totals (organization_id, day);
