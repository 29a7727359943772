-- Query and ingest performance: indexes the hot reads need, monthly product rollups for rankings, and event ingest
-- that appends its change to the rollups instead of updating shared rows (see shared/src/db/rollups.rs).

-- Category pages walk this index in the list's default order (newest first) and stop after one page.
CREATE INDEX products_by_category ON products (organization_id, category, updated_at DESC, id DESC);

-- Events: nothing reads them by occurrence time (series and rankings read the rollups, recomputation reads by client
-- id), and the organization foreign key cost a lookup and a shared lock of the organization row per event, which
-- concurrent batches contended on. Events are only ever written for an organization the caller was just proven a
-- member of; deleting an organization must delete its events explicitly.
DROP INDEX analytics_events_by_time;
ALTER TABLE analytics_events DROP CONSTRAINT analytics_events_organization_id_fkey;

-- One row per event batch: its change to the rollups, as parallel arrays (product_ids[i] NULL for the organization's
-- totals), until a fold adds it to the rollup tables and deletes it. Appended, never updated: no key, no index.
CREATE TABLE rollup_deltas (
    organization_id uuid NOT NULL,
    product_ids     uuid[] NOT NULL,
    days            date[] NOT NULL,
    orders          bigint[] NOT NULL,
    units           bigint[] NOT NULL,
    revenue_minor   bigint[] NOT NULL,
    views           bigint[] NOT NULL,
    add_to_carts    bigint[] NOT NULL,
    purchases       bigint[] NOT NULL
);
-- Folds delete every row soon after it is written: vacuum often so reads scan few dead rows.
ALTER TABLE rollup_deltas SET (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 1000,
                               autovacuum_vacuum_insert_scale_factor = 0, autovacuum_vacuum_insert_threshold = 1000);

-- Each product's calendar months (keyed by the first day), kept in step with the daily rows: a ranking over a long
-- range reads one row per product and whole month, and daily rows only for the days around them.
CREATE TABLE monthly_product_totals (
    organization_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    product_id      uuid NOT NULL,
    month           date NOT NULL CHECK (extract(day FROM month) = 1),
    orders          bigint NOT NULL DEFAULT 0,
    units           bigint NOT NULL DEFAULT 0,
    revenue_minor   bigint NOT NULL DEFAULT 0,
    views           bigint NOT NULL DEFAULT 0,
    add_to_carts    bigint NOT NULL DEFAULT 0,
    purchases       bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (organization_id, month, product_id)
);
INSERT INTO monthly_product_totals (organization_id, product_id, month, orders, units, revenue_minor, views,
                                    add_to_carts, purchases)
SELECT organization_id, product_id, date_trunc('month', day)::date, sum(orders), sum(units), sum(revenue_minor),
       sum(views), sum(add_to_carts), sum(purchases)
FROM daily_product_totals GROUP BY organization_id, product_id, date_trunc('month', day);

-- The product-days with sales, for the days of a ranking outside whole months (most product-days hold only views).
CREATE INDEX daily_product_totals_sales ON daily_product_totals (organization_id, day) WHERE orders <> 0;

-- A number per organization that every write to its sales figures increases: rankings computed at one version stay
-- exact until it changes.
CREATE TABLE sales_versions (
    organization_id uuid PRIMARY KEY REFERENCES organizations (id) ON DELETE CASCADE,
    version         bigint NOT NULL
);
