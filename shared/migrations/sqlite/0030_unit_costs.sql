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

-- The unit cost in force when the order was placed (NULL: unknown), resolved when the line is written. Lines
-- stored before this migration start unknown (SQLite cannot tell their local day to backfill the rollups); the
-- product's next cost change resolves them from the entries above.
ALTER TABLE order_lines ADD COLUMN unit_cost_minor INTEGER CHECK (unit_cost_minor >= 0);

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
-- Every sale stored so far is one whose cost is unknown.
UPDATE daily_totals SET unknown_cost_orders = orders, unknown_cost_units = units,
    unknown_cost_revenue_minor = revenue_minor;
UPDATE daily_product_totals SET unknown_cost_orders = orders, unknown_cost_units = units,
    unknown_cost_revenue_minor = revenue_minor;
UPDATE monthly_product_totals SET unknown_cost_orders = orders, unknown_cost_units = units,
    unknown_cost_revenue_minor = revenue_minor;
