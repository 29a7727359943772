-- Alerts: the channels an organization is told through, and every delivery to them. A Slack or Teams channel's
-- webhook URL is a secret: the row holds only its name in the secrets port. An e-mail channel holds its recipients.
-- Deliveries outlive their channel (the record of what was sent stays), so they carry its id without a reference.
CREATE TABLE alert_channels (
    id              uuid PRIMARY KEY,
    organization_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    kind            text NOT NULL CHECK (kind IN ('slack', 'teams', 'email')),
    name            text NOT NULL,
    secret_name     text,            -- slack, teams: the webhook URL's name in the secrets port
    recipients      text,            -- email: a JSON array of addresses
    created_at      timestamptz NOT NULL,
    CHECK ((kind = 'email') = (recipients IS NOT NULL) AND (kind = 'email') = (secret_name IS NULL))
);
CREATE INDEX alert_channels_by_organization ON alert_channels (organization_id, created_at, id);

CREATE TABLE alert_deliveries (
    id                uuid PRIMARY KEY,
    organization_id   uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    channel_id        uuid NOT NULL,
    purpose           text NOT NULL CHECK (purpose IN ('alert', 'digest', 'test')),
    subject           text NOT NULL,  -- the cooldown's key: a recommendation's kind and subject, or a digest's week
    recommendation_id uuid,
    title             text NOT NULL,
    status            text NOT NULL CHECK (status IN ('sent', 'failed')),
    attempts          integer NOT NULL,
    error             text,
    created_at        timestamptz NOT NULL
);
CREATE INDEX alert_deliveries_by_organization ON alert_deliveries (organization_id, created_at DESC, id DESC);
