-- Alerts: channels and deliveries; see the PostgreSQL migration of the same name.
CREATE TABLE alert_channels (
    id              BLOB PRIMARY KEY,
    organization_id BLOB NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    kind            TEXT NOT NULL CHECK (kind IN ('slack', 'teams', 'email')),
    name            TEXT NOT NULL,
    secret_name     TEXT,
    recipients      TEXT,
    created_at      TEXT NOT NULL,
    CHECK ((kind = 'email') = (recipients IS NOT NULL) AND (kind = 'email') = (secret_name IS NULL))
) STRICT;
CREATE INDEX alert_channels_by_organization ON alert_channels (organization_id, created_at, id);

CREATE TABLE alert_deliveries (
    id                BLOB PRIMARY KEY,
    organization_id   BLOB NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    channel_id        BLOB NOT NULL,
    purpose           TEXT NOT NULL CHECK (purpose IN ('alert', 'digest', 'test')),
    subject           TEXT NOT NULL,
    recommendation_id BLOB,
    title             TEXT NOT NULL,
    status            TEXT NOT NULL CHECK (status IN ('sent', 'failed')),
    attempts          INTEGER NOT NULL,
    error             TEXT,
    created_at        TEXT NOT NULL
) STRICT;
CREATE INDEX alert_deliveries_by_organization ON alert_deliveries (organization_id, created_at DESC, id DESC);
