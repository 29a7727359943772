-- The advisor's recommendations and its runs. See the PostgreSQL migration for the design.
CREATE TABLE recommendations (
    id                BLOB PRIMARY KEY,
    organization_id   BLOB NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    kind              TEXT NOT NULL CHECK (kind IN ('restock', 'dead_stock', 'slow_mover', 'top_mover', 'decliner',
                          'conversion_gap', 'revenue_anomaly', 'price_suggestion', 'video_fitness')),
    subject           TEXT NOT NULL,
    product_id        BLOB,
    title             TEXT NOT NULL,
    body              TEXT NOT NULL,
    score             INTEGER NOT NULL,
    impact_minor      INTEGER,
    fingerprint       TEXT NOT NULL,
    content_hash      TEXT NOT NULL,
    status            TEXT NOT NULL CHECK (status IN ('open', 'dismissed', 'done')),
    status_changed_at TEXT,
    resolved_at       TEXT,
    created_at        TEXT NOT NULL,
    updated_at        TEXT NOT NULL,
    UNIQUE (organization_id, kind, subject)
) STRICT;
CREATE INDEX recommendations_ranked ON recommendations (organization_id, score DESC, id)
    WHERE resolved_at IS NULL;

CREATE TABLE advice_runs (
    organization_id BLOB PRIMARY KEY REFERENCES organizations (id) ON DELETE CASCADE,
    computed_at     TEXT,
    local_day       TEXT,
    watermark       TEXT,
    recommendations INTEGER NOT NULL DEFAULT 0,
    duration_ms     INTEGER NOT NULL DEFAULT 0,
    found           TEXT,
    leased_until    TEXT,
    briefing_hash   TEXT,
    briefing        TEXT
) STRICT;

CREATE INDEX orders_by_updated ON orders (organization_id, updated_at);
CREATE INDEX analytics_events_by_received ON analytics_events (organization_id, received_at);
