-- natter schema 6 (Postgres): pictures and voice.
-- A turn keeps the pictures its user message carried, as a JSON array of
-- image parts: each by reference with a small copy (NULL when there were none).
ALTER TABLE turns ADD COLUMN user_images TEXT;
-- The usage ledger counts seconds of voice transcribed and pictures made.
ALTER TABLE usage_ledger ADD COLUMN audio_seconds BIGINT NOT NULL DEFAULT 0;
ALTER TABLE usage_ledger ADD COLUMN images BIGINT NOT NULL DEFAULT 0;
