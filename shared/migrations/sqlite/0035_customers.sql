-- Customers, minimised; see the PostgreSQL migration of the same name.
ALTER TABLE orders ADD COLUMN customer_key TEXT;
CREATE INDEX orders_by_customer ON orders (organization_id, customer_key, placed_at) WHERE customer_key IS NOT NULL;
