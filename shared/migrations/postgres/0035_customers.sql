-- Customers, minimised: an order keeps only the platform's id of its customer (a Shopify customer gid, a WooCommerce
-- customer id; none for a guest checkout), never a name, e-mail address, phone or address. It is what new vs
-- returning sales, repeat purchases and first-order cohorts need, and `customers/redact` removes it.
ALTER TABLE orders ADD COLUMN customer_key text;
CREATE INDEX orders_by_customer ON orders (organization_id, customer_key, placed_at) WHERE customer_key IS NOT NULL;
