-- Customer rollups, kept in step with every order write (see shared::analytics::customers): each customer's first
-- counting order, and their counting orders and revenue per local day. New vs returning figures and first-order
-- cohorts read these instead of every order and line. A customer is a platform id within one store. Existing
-- orders are folded in by `handler rollups rebuild --all` (days are local to each organization's time zone).
CREATE TABLE customers (
    organization_id           uuid NOT NULL,
    store_id                  uuid NOT NULL,
    customer_key              text NOT NULL,
    first_order_id            uuid NOT NULL,
    first_order_at            timestamptz NOT NULL,
    first_day                 date NOT NULL,
    first_order_revenue_minor bigint NOT NULL,
    PRIMARY KEY (organization_id, store_id, customer_key),
    FOREIGN KEY (organization_id, store_id) REFERENCES stores (organization_id, id) ON DELETE CASCADE
);
CREATE INDEX customers_by_first_day ON customers (organization_id, first_day);

CREATE TABLE customer_days (
    organization_id uuid NOT NULL,
    store_id        uuid NOT NULL,
    customer_key    text NOT NULL,
    day             date NOT NULL,
    orders          bigint NOT NULL,
    revenue_minor   bigint NOT NULL,
    PRIMARY KEY (organization_id, day, store_id, customer_key),
    FOREIGN KEY (organization_id, store_id) REFERENCES stores (organization_id, id) ON DELETE CASCADE
);
