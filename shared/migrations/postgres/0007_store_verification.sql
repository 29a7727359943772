-- Whether a store connection has proven that its credentials act for the shop or site it names: a token verified
-- against the shop's Admin API when it was connected (later: an OAuth install), or any successful platform call of a
-- sync. Shopify signs every webhook with the app's one client secret, so a delivery proves which shop it is about,
-- never which organization owns that shop: deliveries are applied only to connections that are proven. A connection
-- made before this migration starts unproven and becomes proven on its next successful sync (or is disabled when the
-- platform refuses its credentials).
ALTER TABLE store_connections ADD COLUMN credentials_verified_at timestamptz;

-- One shop domain has at most one enabled unproven Shopify connection; any number of proven ones (each organization
-- proved its own token). Existing duplicates keep the oldest enabled connection; later ones are disabled with a
-- reason, and reconnecting proves the token.
UPDATE store_connections c SET status = 'disabled', updated_at = now(),
    disabled_reason = 'another connection of this shop came first; reconnect to verify the access token'
WHERE c.platform = 'shopify' AND c.status = 'enabled' AND EXISTS (
    SELECT 1 FROM store_connections e
    WHERE e.platform = c.platform AND e.address = c.address AND e.status = 'enabled'
      AND (e.created_at, e.store_id) < (c.created_at, c.store_id));
CREATE UNIQUE INDEX store_connections_one_unproven_shop ON store_connections (platform, address)
    WHERE platform = 'shopify' AND status = 'enabled' AND credentials_verified_at IS NULL;
