-- natter schema 4 (Postgres): a job is leased while it runs, not removed, so
-- a process that dies holding one does not lose it and another takes it again.
ALTER TABLE scheduled_jobs
    ADD COLUMN leased_by       TEXT,
    ADD COLUMN leased_until_ms BIGINT,
    ADD COLUMN attempts        INTEGER NOT NULL DEFAULT 0;
