-- The advisor's recommendations and its runs. A recommendation is identified by (organization, kind, subject): a
-- refresh that finds the same kind of finding about the same subject updates that row, so the merchant's status
-- (dismissed, done) survives refreshes. `fingerprint` hashes the facts that matter, quantized: when it changes, a
-- dismissed or done item is open again. Findings that no longer hold get `resolved_at` and are hidden; if they hold
-- again within two days they keep their status (no flapping), later they count as new. Resolved rows are purged
-- after 30 days.
CREATE TABLE recommendations (
    id                uuid PRIMARY KEY,
    organization_id   uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    kind              text NOT NULL CHECK (kind IN ('restock', 'dead_stock', 'slow_mover', 'top_mover', 'decliner',
                          'conversion_gap', 'revenue_anomaly', 'price_suggestion', 'video_fitness')),
    subject           text NOT NULL,          -- product:<id>, day:<date>, week:<monday>, video:<id>
    product_id        uuid,                   -- the product concerned, if any (no foreign key: advice outlives it)
    title             text NOT NULL,
    body              text NOT NULL,          -- the recommendation with its evidence, JSON
    score             bigint NOT NULL,        -- ranking key: money at stake in minor units where there is one
    impact_minor      bigint,
    fingerprint       text NOT NULL,
    content_hash      text NOT NULL,          -- of everything shown: a refresh computing the same writes nothing
    status            text NOT NULL CHECK (status IN ('open', 'dismissed', 'done')),
    status_changed_at timestamptz,
    resolved_at       timestamptz,
    created_at        timestamptz NOT NULL,
    updated_at        timestamptz NOT NULL,
    UNIQUE (organization_id, kind, subject)
);
-- Lists: current items by score, then id (the keyset of the API's cursor).
CREATE INDEX recommendations_ranked ON recommendations (organization_id, score DESC, id)
    WHERE resolved_at IS NULL;

CREATE TABLE advice_runs (
    organization_id uuid PRIMARY KEY REFERENCES organizations (id) ON DELETE CASCADE,
    computed_at     timestamptz,              -- null until the first refresh completes
    local_day       date,                     -- the organization's day the facts were computed for
    watermark       timestamptz,              -- the latest write to its data seen by that refresh
    recommendations integer NOT NULL DEFAULT 0,
    duration_ms     bigint NOT NULL DEFAULT 0,
    found           text,                     -- what the rules found by kind before the per-kind caps, JSON
    leased_until    timestamptz,              -- a refresh in progress (another instance skips the organization)
    briefing_hash   text,                     -- the facts the cached model briefing was written from
    briefing        text                      -- that briefing, JSON
);

-- Change detection for the RefreshAdvice timer: the latest write per organization, read from an index.
CREATE INDEX orders_by_updated ON orders (organization_id, updated_at);
CREATE INDEX analytics_events_by_received ON analytics_events (organization_id, received_at);
