-- Profit and margin: unit costs with effective dates, each order line's cost as resolved when it was written, and
-- the cost measures of the rollups (see shared/src/costs.rs for the rules, shared/src/analytics.rs for the measures).

-- Every unit cost a product or variant has had, appended, never updated: the merchant's (variant_id NULL, for the
-- whole product) and the platform's (one per variant). A NULL cost records that the cost became unknown (cleared).
CREATE TABLE unit_costs (
    organization_id uuid NOT NULL,
    product_id      uuid NOT NULL,
    variant_id      uuid,
    effective_from  timestamptz NOT NULL,
    cost_minor      bigint CHECK (cost_minor >= 0),
    FOREIGN KEY (organization_id, product_id) REFERENCES products (organization_id, id) ON DELETE CASCADE
);
CREATE INDEX unit_costs_by_product ON unit_costs (organization_id, product_id, effective_from);

-- The costs known today become the first entries: a product's or variant's first cost applies to every earlier sale.
INSERT INTO unit_costs (organization_id, product_id, variant_id, effective_from, cost_minor)
SELECT organization_id, id, NULL, now(), unit_cost_minor FROM products WHERE unit_cost_minor IS NOT NULL;
INSERT INTO unit_costs (organization_id, product_id, variant_id, effective_from, cost_minor)
SELECT organization_id, product_id, id, now(), cost_minor FROM variants WHERE cost_minor IS NOT NULL;

-- The unit cost in force when the order was placed (NULL: unknown), resolved when the line is written.
ALTER TABLE order_lines ADD COLUMN unit_cost_minor bigint CHECK (unit_cost_minor >= 0);
UPDATE order_lines l SET unit_cost_minor = coalesce(
    (SELECT p.unit_cost_minor FROM products p WHERE p.organization_id = l.organization_id AND p.id = l.product_id),
    (SELECT v.cost_minor FROM variants v WHERE v.organization_id = l.organization_id AND v.id = l.variant_id
     AND v.product_id = l.product_id));
-- Lines whose cost is still unknown are re-resolved when a first cost arrives.
CREATE INDEX order_lines_unknown_cost ON order_lines (organization_id, product_id) WHERE unit_cost_minor IS NULL;

-- Cost of goods of the lines with a known cost, and what the lines without one hold.
ALTER TABLE daily_totals ADD COLUMN cost_minor bigint NOT NULL DEFAULT 0,
    ADD COLUMN unknown_cost_orders bigint NOT NULL DEFAULT 0, ADD COLUMN unknown_cost_units bigint NOT NULL DEFAULT 0,
    ADD COLUMN unknown_cost_revenue_minor bigint NOT NULL DEFAULT 0;
ALTER TABLE daily_product_totals ADD COLUMN cost_minor bigint NOT NULL DEFAULT 0,
    ADD COLUMN unknown_cost_orders bigint NOT NULL DEFAULT 0, ADD COLUMN unknown_cost_units bigint NOT NULL DEFAULT 0,
    ADD COLUMN unknown_cost_revenue_minor bigint NOT NULL DEFAULT 0;
ALTER TABLE monthly_product_totals ADD COLUMN cost_minor bigint NOT NULL DEFAULT 0,
    ADD COLUMN unknown_cost_orders bigint NOT NULL DEFAULT 0, ADD COLUMN unknown_cost_units bigint NOT NULL DEFAULT 0,
    ADD COLUMN unknown_cost_revenue_minor bigint NOT NULL DEFAULT 0;
-- Event deltas carry every measure (zeros for the cost ones); those pending now get zeros.
ALTER TABLE rollup_deltas ADD COLUMN cost_minor bigint[] NOT NULL DEFAULT '{}',
    ADD COLUMN unknown_cost_orders bigint[] NOT NULL DEFAULT '{}',
    ADD COLUMN unknown_cost_units bigint[] NOT NULL DEFAULT '{}',
    ADD COLUMN unknown_cost_revenue_minor bigint[] NOT NULL DEFAULT '{}';
UPDATE rollup_deltas SET cost_minor = array_fill(0::bigint, ARRAY[cardinality(days)]),
    unknown_cost_orders = array_fill(0::bigint, ARRAY[cardinality(days)]),
    unknown_cost_units = array_fill(0::bigint, ARRAY[cardinality(days)]),
    unknown_cost_revenue_minor = array_fill(0::bigint, ARRAY[cardinality(days)]);
ALTER TABLE rollup_deltas ALTER COLUMN cost_minor DROP DEFAULT, ALTER COLUMN unknown_cost_orders DROP DEFAULT,
    ALTER COLUMN unknown_cost_units DROP DEFAULT, ALTER COLUMN unknown_cost_revenue_minor DROP DEFAULT;
-- The rollups of orders stored before this migration gain their cost measures from `handler rollups rebuild`.
