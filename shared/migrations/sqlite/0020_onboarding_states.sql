-- Onboarding states: see the PostgreSQL migration of the same name.
CREATE TABLE onboarding_states (
    state_hash      TEXT PRIMARY KEY,
    platform        TEXT NOT NULL CHECK (platform IN ('shopify', 'woocommerce')),
    address         TEXT NOT NULL,
    organization_id BLOB NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_id         BLOB NOT NULL,
    created_at      TEXT NOT NULL,
    expires_at      TEXT NOT NULL
) STRICT;
CREATE INDEX onboarding_states_expiry ON onboarding_states (expires_at);
