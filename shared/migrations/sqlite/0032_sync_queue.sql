-- Queued sync: the SyncStores timer enqueues one message per due store and a queue-triggered function syncs it.
-- A store is claimed when its message is sent, so the next ticks do not enqueue it again while it waits in the
-- queue; a claim that runs out (a message lost with a local queue, or one dropped on Lambda's budget) lets a later
-- tick enqueue the store again.
ALTER TABLE store_connections ADD COLUMN queued_until TEXT;
