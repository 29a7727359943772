-- Catalogue, orders and analytics. Every row carries its organization; every query filters on it.
-- Money is integer minor units (cents) in the organization's currency.

CREATE TABLE stores (
    id              uuid PRIMARY KEY,
    organization_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    platform        text NOT NULL CHECK (platform IN ('shopify', 'woocommerce', 'demo')),
    name            text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (organization_id, id)
);

CREATE TABLE products (
    id                uuid PRIMARY KEY,
    organization_id   uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    store_id          uuid NOT NULL,
    external_id       text NOT NULL,
    title             text NOT NULL,
    description       text NOT NULL DEFAULT '',
    vendor            text NOT NULL DEFAULT '',
    category          text NOT NULL DEFAULT '',
    status            text NOT NULL CHECK (status IN ('active', 'draft', 'archived')),
    price_minor       bigint,            -- lowest variant price, kept in step with variants
    inventory         bigint NOT NULL DEFAULT 0,
    unit_cost_minor   bigint CHECK (unit_cost_minor >= 0),   -- merchant-owned
    lead_time_days    integer CHECK (lead_time_days BETWEEN 0 AND 365),
    target_cover_days integer CHECK (target_cover_days BETWEEN 1 AND 365),
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    search            tsvector GENERATED ALWAYS AS (
        setweight(to_tsvector('english', title), 'A') ||
        setweight(to_tsvector('english', vendor || ' ' || category), 'B') ||
        setweight(to_tsvector('english', description), 'C')
    ) STORED,
    FOREIGN KEY (organization_id, store_id) REFERENCES stores (organization_id, id) ON DELETE CASCADE,
    UNIQUE (store_id, external_id),
    UNIQUE (organization_id, id)
);
CREATE INDEX products_search ON products USING gin (search);
CREATE INDEX products_by_updated ON products (organization_id, updated_at DESC, id DESC);
CREATE INDEX products_by_title ON products (organization_id, (title COLLATE "C"), id);
CREATE INDEX products_by_price ON products (organization_id, price_minor, id);

CREATE TABLE variants (
    id              uuid PRIMARY KEY,
    organization_id uuid NOT NULL,
    product_id      uuid NOT NULL,
    external_id     text NOT NULL,
    sku             text NOT NULL DEFAULT '',
    title           text NOT NULL DEFAULT '',
    price_minor     bigint NOT NULL CHECK (price_minor >= 0),
    cost_minor      bigint CHECK (cost_minor >= 0),
    inventory       bigint NOT NULL DEFAULT 0,
    updated_at      timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (organization_id, product_id) REFERENCES products (organization_id, id) ON DELETE CASCADE,
    UNIQUE (product_id, external_id)
);
CREATE INDEX variants_by_sku ON variants (organization_id, sku);

CREATE TABLE orders (
    id              uuid PRIMARY KEY,
    organization_id uuid NOT NULL,
    store_id        uuid NOT NULL,
    external_id     text NOT NULL,
    placed_at       timestamptz NOT NULL,
    status          text NOT NULL CHECK (status IN ('open', 'paid', 'fulfilled', 'cancelled', 'refunded')),
    total_minor     bigint NOT NULL,
    updated_at      timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (organization_id, store_id) REFERENCES stores (organization_id, id) ON DELETE CASCADE,
    UNIQUE (store_id, external_id),
    UNIQUE (organization_id, id)
);
CREATE INDEX orders_by_time ON orders (organization_id, placed_at);

CREATE TABLE order_lines (
    order_id        uuid NOT NULL,
    organization_id uuid NOT NULL,
    line_no         integer NOT NULL,
    product_id      uuid,
    variant_id      uuid,
    quantity        integer NOT NULL CHECK (quantity > 0),
    total_minor     bigint NOT NULL,   -- after line discounts
    PRIMARY KEY (order_id, line_no),
    FOREIGN KEY (organization_id, order_id) REFERENCES orders (organization_id, id) ON DELETE CASCADE
);
CREATE INDEX order_lines_by_product ON order_lines (organization_id, product_id);

CREATE TABLE analytics_events (
    organization_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    client_id       text NOT NULL,    -- chosen by the sender; a retried batch repeats it
    kind            text NOT NULL CHECK (kind IN ('view', 'add_to_cart', 'purchase')),
    product_id      uuid,
    occurred_at     timestamptz NOT NULL,
    received_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (organization_id, client_id)
);
CREATE INDEX analytics_events_by_time ON analytics_events (organization_id, occurred_at);

-- Daily rollups in the organization's time zone, maintained in the transaction of every write that changes them.
-- Organization totals are kept apart from per-product rows: an order with two products is one order.
CREATE TABLE daily_totals (
    organization_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    day             date NOT NULL,
    orders          bigint NOT NULL DEFAULT 0,
    units           bigint NOT NULL DEFAULT 0,
    revenue_minor   bigint NOT NULL DEFAULT 0,
    views           bigint NOT NULL DEFAULT 0,
    add_to_carts    bigint NOT NULL DEFAULT 0,
    purchases       bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (organization_id, day)
);

CREATE TABLE daily_product_totals (
    organization_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    product_id      uuid NOT NULL,
    day             date NOT NULL,
    orders          bigint NOT NULL DEFAULT 0,
    units           bigint NOT NULL DEFAULT 0,
    revenue_minor   bigint NOT NULL DEFAULT 0,
    views           bigint NOT NULL DEFAULT 0,
    add_to_carts    bigint NOT NULL DEFAULT 0,
    purchases       bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (organization_id, product_id, day)
);
CREATE INDEX daily_product_totals_by_day ON daily_product_totals (organization_id, day);
