-- natter schema 1 (Postgres). One row per turn, so a turn is stored whole or not at all.
-- Text keys use the "C" collation so listing order is byte order on every server locale.

CREATE TABLE turns (
    id                BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    platform          TEXT   NOT NULL,
    scope             TEXT   NOT NULL,
    user_role         TEXT   NOT NULL,
    user_name         TEXT,
    user_content      TEXT   NOT NULL,
    assistant_role    TEXT   NOT NULL,
    assistant_name    TEXT,
    assistant_content TEXT   NOT NULL,
    created_at_ms     BIGINT NOT NULL
);
-- The context window reads the newest rows of one conversation.
CREATE INDEX turns_by_conversation ON turns (platform, scope, id);

CREATE TABLE persona_overrides (
    scope         TEXT COLLATE "C" PRIMARY KEY,
    persona       TEXT   NOT NULL,
    updated_at_ms BIGINT NOT NULL
);

CREATE TABLE plugin_state (
    namespace     TEXT COLLATE "C" NOT NULL,
    key           TEXT COLLATE "C" NOT NULL,
    value         TEXT   NOT NULL,
    updated_at_ms BIGINT NOT NULL,
    PRIMARY KEY (namespace, key)
);

CREATE TABLE usage_ledger (
    id                BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    platform          TEXT   NOT NULL,
    scope             TEXT   NOT NULL,
    user_id           TEXT   NOT NULL,
    backend           TEXT   NOT NULL,
    model             TEXT   NOT NULL,
    prompt_tokens     BIGINT NOT NULL,
    completion_tokens BIGINT NOT NULL,
    at_ms             BIGINT NOT NULL
);
CREATE INDEX usage_by_time ON usage_ledger (at_ms);
CREATE INDEX usage_by_user ON usage_ledger (user_id, at_ms);

CREATE TABLE scheduled_jobs (
    id        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    namespace TEXT   NOT NULL,
    owner     TEXT   NOT NULL,
    due_ms    BIGINT NOT NULL,
    payload   TEXT   NOT NULL
);
CREATE INDEX jobs_by_due ON scheduled_jobs (due_ms, id);
CREATE INDEX jobs_by_owner ON scheduled_jobs (namespace, owner, due_ms);
