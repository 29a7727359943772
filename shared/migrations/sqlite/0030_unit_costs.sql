-- Profit and margin: unit costs with effective dates, each order line's cost as resolved when it was written, and
-- the cost measures of the rollups (see shared/src/costs.rs for the rules, shared/src/analytics.rs for the measures).

-- Every unit cost a product or variant has had, appended, never updated: the merchant's (variant_id NULL, for the
-- whole product) and the platform's (one per variant). A NULL cost records that the cost became unknown (cleared).
CREATE TABLE unit_costs (
    organization_id BLOB NOT NULL,
    product_id      BLOB NOT NULL,
    variant_id      BLOB,
    effective_from  TEXT NOT NULL,
    cost_minor      INTEGER CHECK (cost_minor >= 0),
    FOREIGN KEY (organization_id, product_id) REFERENCES products (organization_id, id) ON DELETE CASCADE
) STRICT;
CREATE INDEX unit_costs_by_product ON unit_costs (organization_id, product_id, effective_from);

-- The costs known today become the first entries: a product's or variant's first cost applies to every earlier sale.
INSERT INTO unit_costs (organization_id, product_id, variant_id, effective_from, cost_minor)
SELECT organization_id, id, NULL, strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now'), unit_cost_minor FROM products
WHERE unit_cost_minor IS NOT NULL;
INSERT INTO unit_costs (organization_id, product_id, variant_id, effective_from, cost_minor)
SELECT organization_id, product_id, id, strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now'), cost_minor FROM variants
WHERE cost_minor IS NOT NULL;

-- The unit cost in force when the order was placed (NULL: unknown), resolved when the line is written.
ALTER TABLE order_lines ADD COLUMN unit_cost_minor INTEGER CHECK (unit_cost_minor >= 0);
UPDATE order_lines SET unit_cost_minor = coalesce(
    (SELECT p.unit_cost_minor FROM products p
     WHERE p.organization_id = order_lines.organization_id AND p.id = order_lines.product_id),
    (SELECT v.cost_minor FROM variants v WHERE v.organization_id = order_lines.organization_id
     AND v.id = order_lines.variant_id AND v.product_id = order_lines.product_id));
-- Lines whose cost is still unknown are re-resolved when a first cost arrives.
CREATE INDEX order_lines_unknown_cost ON order_lines (organization_id, product_id) WHERE unit_cost_minor IS NULL;

-- Cost of goods of the lines with a known cost, and what the lines without one hold.
ALTER TABLE daily_totals ADD COLUMN cost_minor INTEGER NOT NULL DEFAULT 0;
ALTER TABLE daily_totals ADD COLUMN unknown_cost_orders INTEGER NOT NULL DEFAULT 0;
ALTER TABLE daily_totals ADD COLUMN unknown_cost_units INTEGER NOT NULL DEFAULT 0;
ALTER TABLE daily_totals ADD COLUMN unknown_cost_revenue_minor INTEGER NOT NULL DEFAULT 0;
ALTER TABLE daily_product_totals ADD COLUMN cost_minor INTEGER NOT NULL DEFAULT 0;
ALTER TABLE daily_product_totals ADD COLUMN unknown_cost_orders INTEGER NOT NULL DEFAULT 0;
ALTER TABLE daily_product_totals ADD COLUMN unknown_cost_units INTEGER NOT NULL DEFAULT 0;
ALTER TABLE daily_product_totals ADD COLUMN unknown_cost_revenue_minor INTEGER NOT NULL DEFAULT 0;
ALTER TABLE monthly_product_totals ADD COLUMN cost_minor INTEGER NOT NULL DEFAULT 0;
ALTER TABLE monthly_product_totals ADD COLUMN unknown_cost_orders INTEGER NOT NULL DEFAULT 0;
ALTER TABLE monthly_product_totals ADD COLUMN unknown_cost_units INTEGER NOT NULL DEFAULT 0;
ALTER TABLE monthly_product_totals ADD COLUMN unknown_cost_revenue_minor INTEGER NOT NULL DEFAULT 0;
-- The rollups of orders stored before this migration gain their cost measures from `handler rollups rebuild`.
