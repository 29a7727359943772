-- Shopify's compliance requests and what was done about each: see the PostgreSQL migration of the same name.
CREATE TABLE compliance_requests (
    id              BLOB PRIMARY KEY,
    organization_id BLOB NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    store_id        BLOB NOT NULL,
    shop            TEXT NOT NULL,
    topic           TEXT NOT NULL CHECK (topic IN ('customers/data_request', 'customers/redact', 'shop/redact')),
    customer_id     TEXT,
    order_ids       TEXT NOT NULL,
    received_at     TEXT NOT NULL,
    outcome         TEXT NOT NULL
) STRICT;
CREATE INDEX compliance_requests_by_received ON compliance_requests (organization_id, received_at DESC, id DESC);
