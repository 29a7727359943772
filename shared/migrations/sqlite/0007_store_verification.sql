-- Proven store connections: see the PostgreSQL migration of the same name.
ALTER TABLE store_connections ADD COLUMN credentials_verified_at TEXT;

UPDATE store_connections SET status = 'disabled', updated_at = strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now'),
    disabled_reason = 'another connection of this shop came first; reconnect to verify the access token'
WHERE platform = 'shopify' AND status = 'enabled' AND EXISTS (
    SELECT 1 FROM store_connections e
    WHERE e.platform = store_connections.platform AND e.address = store_connections.address
      AND e.status = 'enabled'
      AND (e.created_at < store_connections.created_at
           OR (e.created_at = store_connections.created_at AND e.store_id < store_connections.store_id)));
CREATE UNIQUE INDEX store_connections_one_unproven_shop ON store_connections (platform, address)
    WHERE platform = 'shopify' AND status = 'enabled' AND credentials_verified_at IS NULL;
