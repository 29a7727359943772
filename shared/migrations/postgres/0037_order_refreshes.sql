-- A WooCommerce order webhook lists refunds by total only: the order is applied with them spread over its lines and
-- queued as an `order` refresh, which the next sync fetches with the lines its refunds were for.
ALTER TABLE sync_refresh_queue DROP CONSTRAINT sync_refresh_queue_kind_check;
ALTER TABLE sync_refresh_queue ADD CONSTRAINT sync_refresh_queue_kind_check
    CHECK (kind IN ('product', 'inventory_item', 'order'));
