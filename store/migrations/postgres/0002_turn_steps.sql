-- natter schema 2 (Postgres): a turn keeps the tool calls and results made on
-- the way to its reply, as a JSON array of messages (NULL when there were none).
ALTER TABLE turns ADD COLUMN steps TEXT;
