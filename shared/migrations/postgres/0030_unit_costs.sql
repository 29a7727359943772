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
-- The cost measures of the orders stored before this migration, by the rules of shared/src/analytics.rs: counting
-- orders, on their day in the organization's zone, rows for every key that already has sales.
CREATE TEMPORARY TABLE costed_lines ON COMMIT DROP AS
SELECT o.organization_id, l.product_id, (o.placed_at AT TIME ZONE g.timezone)::date AS day, o.id AS order_id,
       l.quantity, l.total_minor, l.unit_cost_minor
FROM orders o
JOIN organizations g ON g.id = o.organization_id
JOIN order_lines l ON l.organization_id = o.organization_id AND l.order_id = o.id
WHERE o.status IN ('open', 'paid', 'fulfilled');
UPDATE daily_totals d SET cost_minor = c.cost_minor, unknown_cost_orders = c.unknown_cost_orders,
    unknown_cost_units = c.unknown_cost_units, unknown_cost_revenue_minor = c.unknown_cost_revenue_minor
FROM (SELECT organization_id, day, coalesce(sum(quantity * unit_cost_minor), 0) AS cost_minor,
             count(DISTINCT order_id) FILTER (WHERE unit_cost_minor IS NULL) AS unknown_cost_orders,
             coalesce(sum(quantity) FILTER (WHERE unit_cost_minor IS NULL), 0) AS unknown_cost_units,
             coalesce(sum(total_minor) FILTER (WHERE unit_cost_minor IS NULL), 0) AS unknown_cost_revenue_minor
      FROM costed_lines GROUP BY organization_id, day) c
WHERE d.organization_id = c.organization_id AND d.day = c.day;
UPDATE daily_product_totals d SET cost_minor = c.cost_minor, unknown_cost_orders = c.unknown_cost_orders,
    unknown_cost_units = c.unknown_cost_units, unknown_cost_revenue_minor = c.unknown_cost_revenue_minor
FROM (SELECT organization_id, product_id, day, coalesce(sum(quantity * unit_cost_minor), 0) AS cost_minor,
             count(DISTINCT order_id) FILTER (WHERE unit_cost_minor IS NULL) AS unknown_cost_orders,
             coalesce(sum(quantity) FILTER (WHERE unit_cost_minor IS NULL), 0) AS unknown_cost_units,
             coalesce(sum(total_minor) FILTER (WHERE unit_cost_minor IS NULL), 0) AS unknown_cost_revenue_minor
      FROM costed_lines WHERE product_id IS NOT NULL GROUP BY organization_id, product_id, day) c
WHERE d.organization_id = c.organization_id AND d.product_id = c.product_id AND d.day = c.day;
UPDATE monthly_product_totals m SET cost_minor = c.cost_minor, unknown_cost_orders = c.unknown_cost_orders,
    unknown_cost_units = c.unknown_cost_units, unknown_cost_revenue_minor = c.unknown_cost_revenue_minor
FROM (SELECT organization_id, product_id, date_trunc('month', day)::date AS month, sum(cost_minor) AS cost_minor,
             sum(unknown_cost_orders) AS unknown_cost_orders, sum(unknown_cost_units) AS unknown_cost_units,
             sum(unknown_cost_revenue_minor) AS unknown_cost_revenue_minor
      FROM daily_product_totals GROUP BY organization_id, product_id, date_trunc('month', day)) c
WHERE m.organization_id = c.organization_id AND m.product_id = c.product_id AND m.month = c.month;
