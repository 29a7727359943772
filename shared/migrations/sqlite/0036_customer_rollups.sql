-- Customer rollups; see the PostgreSQL migration of the same name.
CREATE TABLE customers (
    organization_id           BLOB NOT NULL,
    store_id                  BLOB NOT NULL,
    customer_key              TEXT NOT NULL,
    first_order_id            BLOB NOT NULL,
    first_order_at            TEXT NOT NULL,
    first_day                 TEXT NOT NULL,
    first_order_revenue_minor INTEGER NOT NULL,
    PRIMARY KEY (organization_id, store_id, customer_key),
    FOREIGN KEY (organization_id, store_id) REFERENCES stores (organization_id, id) ON DELETE CASCADE
);
CREATE INDEX customers_by_first_day ON customers (organization_id, first_day);

CREATE TABLE customer_days (
    organization_id BLOB NOT NULL,
    store_id        BLOB NOT NULL,
    customer_key    TEXT NOT NULL,
    day             TEXT NOT NULL,
    orders          INTEGER NOT NULL,
    revenue_minor   INTEGER NOT NULL,
    PRIMARY KEY (organization_id, day, store_id, customer_key),
    FOREIGN KEY (organization_id, store_id) REFERENCES stores (organization_id, id) ON DELETE CASCADE
);
