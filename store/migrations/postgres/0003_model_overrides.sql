-- natter schema 3 (Postgres): the model a conversation chose with /model.
CREATE TABLE model_overrides (
    scope         TEXT   PRIMARY KEY NOT NULL,
    model         TEXT   NOT NULL,
    updated_at_ms BIGINT NOT NULL
);
