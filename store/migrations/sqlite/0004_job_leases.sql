-- natter schema 4 (SQLite): a job is leased while it runs, not removed, so a
-- process that dies holding one does not lose it.
ALTER TABLE scheduled_jobs ADD COLUMN leased_by TEXT;
ALTER TABLE scheduled_jobs ADD COLUMN leased_until_ms INTEGER;
ALTER TABLE scheduled_jobs ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
