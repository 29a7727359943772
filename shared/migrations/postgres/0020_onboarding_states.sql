-- Onboarding states: the nonce a store install (Shopify's OAuth authorization code grant, WooCommerce's key
-- approval) carries through the platform and back. It is the only thing that authenticates the platform's callback
-- as the admin who started the install, so it is random, bound to that organization and user and to the platform
-- and address asked for, single use (consumed by one DELETE … RETURNING) and short-lived. Only its SHA-256 is kept:
-- reading this table gives no state a callback would accept.
CREATE TABLE onboarding_states (
    state_hash      text PRIMARY KEY,
    platform        text NOT NULL CHECK (platform IN ('shopify', 'woocommerce')),
    address         text NOT NULL,           -- shop domain or site URL, normalised
    organization_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_id         uuid NOT NULL,
    created_at      timestamptz NOT NULL,
    expires_at      timestamptz NOT NULL
);
CREATE INDEX onboarding_states_expiry ON onboarding_states (expires_at);
