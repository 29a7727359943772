-- Tenants: an organization is a merchant business; members are Supabase users (JWT `sub`).
-- UUIDs are 16-byte BLOBs (sqlx's encoding); timestamps RFC 3339 UTC text.
CREATE TABLE organizations (
    id          BLOB PRIMARY KEY,
    name        TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    timezone    TEXT NOT NULL DEFAULT 'UTC',
    currency    TEXT NOT NULL DEFAULT 'USD' CHECK (length(currency) = 3),
    created_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now'))
) STRICT;

CREATE TABLE members (
    organization_id BLOB NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_id         BLOB NOT NULL,
    role            TEXT NOT NULL CHECK (role IN ('member', 'admin')),
    created_at      TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now')),
    PRIMARY KEY (organization_id, user_id)
) STRICT;

CREATE INDEX members_by_user ON members (user_id);
