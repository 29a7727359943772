-- When the analysis of the current blob version was claimed. Copies of one BlobCreated event (Event Grid delivers at
-- least once; the host retries) find the claim standing and are retried later instead of probing the blob again; a
-- claim left by a killed instance lapses after the function timeout, so a retry can take it over. The result is
-- written only under the claim it was computed for.
ALTER TABLE videos ADD COLUMN analysis_claimed_at timestamptz;
