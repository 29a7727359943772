-- Partial refunds: what of each line was refunded (or removed by an order edit). Sales figures count a line net of
-- it — units sold less units refunded, the line total less the amount refunded — so a partly refunded order counts
-- only what the customer kept. A fully refunded order is `refunded` and counts for nothing, as before.
ALTER TABLE order_lines ADD COLUMN refunded_quantity integer NOT NULL DEFAULT 0;
ALTER TABLE order_lines ADD COLUMN refunded_minor bigint NOT NULL DEFAULT 0;
