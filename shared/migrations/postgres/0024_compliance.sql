-- Shopify's mandatory compliance requests (customers/data_request, customers/redact, shop/redact) as received, and
-- what was done about each: the audit trail of every erasure. A row outlives the store it names (shop/redact erases
-- the store), so it keeps the store id without a foreign key. Only Shopify's ids are kept: never a customer's name,
-- e-mail address or phone number, which the payloads carry.
CREATE TABLE compliance_requests (
    id              uuid PRIMARY KEY,
    organization_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    store_id        uuid NOT NULL,
    shop            text NOT NULL,
    topic           text NOT NULL CHECK (topic IN ('customers/data_request', 'customers/redact', 'shop/redact')),
    customer_id     text,               -- Shopify's customer id (customer topics)
    order_ids       text NOT NULL,      -- JSON array of the order ids the request names, as Shopify's gids
    received_at     timestamptz NOT NULL,
    outcome         text NOT NULL       -- what was done, for the merchant and the auditor
);
CREATE INDEX compliance_requests_by_received ON compliance_requests (organization_id, received_at DESC, id DESC);
