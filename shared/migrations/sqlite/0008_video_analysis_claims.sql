-- Analysis claims: see the PostgreSQL migration of the same name.
ALTER TABLE videos ADD COLUMN analysis_claimed_at TEXT;
