-- Query performance: indexes the hot reads need, monthly product rollups for rankings, and a prefix index for
-- search as you type. Events keep updating the rollups in their own transaction here (one writer at a time).

-- Category pages walk this index in the list's default order (newest first) and stop after one page.
CREATE INDEX products_by_category ON products (organization_id, category, updated_at DESC, id DESC);

-- Nothing reads events by occurrence time (series and rankings read the rollups).
DROP INDEX analytics_events_by_time;

-- Each product's calendar months (keyed by the first day), kept in step with the daily rows.
CREATE TABLE monthly_product_totals (
    organization_id BLOB NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    product_id      BLOB NOT NULL,
    month           TEXT NOT NULL CHECK (substr(month, 9, 2) = '01'),
    orders          INTEGER NOT NULL DEFAULT 0,
    units           INTEGER NOT NULL DEFAULT 0,
    revenue_minor   INTEGER NOT NULL DEFAULT 0,
    views           INTEGER NOT NULL DEFAULT 0,
    add_to_carts    INTEGER NOT NULL DEFAULT 0,
    purchases       INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (organization_id, month, product_id)
) STRICT;
INSERT INTO monthly_product_totals (organization_id, product_id, month, orders, units, revenue_minor, views,
                                    add_to_carts, purchases)
SELECT organization_id, product_id, substr(day, 1, 8) || '01', sum(orders), sum(units), sum(revenue_minor),
       sum(views), sum(add_to_carts), sum(purchases)
FROM daily_product_totals GROUP BY organization_id, product_id, substr(day, 1, 8);

-- The product-days with sales, for the days of a ranking outside whole months.
CREATE INDEX daily_product_totals_sales ON daily_product_totals (organization_id, day) WHERE orders <> 0;

CREATE TABLE sales_versions (
    organization_id BLOB PRIMARY KEY REFERENCES organizations (id) ON DELETE CASCADE,
    version         INTEGER NOT NULL
) STRICT;
