-- Partial refunds; see the PostgreSQL migration of the same name.
ALTER TABLE order_lines ADD COLUMN refunded_quantity INTEGER NOT NULL DEFAULT 0;
ALTER TABLE order_lines ADD COLUMN refunded_minor INTEGER NOT NULL DEFAULT 0;
