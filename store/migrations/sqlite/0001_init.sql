-- natter schema 1 (SQLite). One row per turn, so a turn is stored whole or not at all.

CREATE TABLE turns (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    platform          TEXT    NOT NULL,
    scope             TEXT    NOT NULL,
    user_role         TEXT    NOT NULL,
    user_name         TEXT,
    user_content      TEXT    NOT NULL,
    assistant_role    TEXT    NOT NULL,
    assistant_name    TEXT,
    assistant_content TEXT    NOT NULL,
    created_at_ms     INTEGER NOT NULL
);
-- The context window reads the newest rows of one conversation.
CREATE INDEX turns_by_conversation ON turns (platform, scope, id);

CREATE TABLE persona_overrides (
    scope         TEXT    PRIMARY KEY NOT NULL,
    persona       TEXT    NOT NULL,
    updated_at_ms INTEGER NOT NULL
);

CREATE TABLE plugin_state (
    namespace     TEXT    NOT NULL,
    key           TEXT    NOT NULL,
    value         TEXT    NOT NULL,
    updated_at_ms INTEGER NOT NULL,
    PRIMARY KEY (namespace, key)
);

CREATE TABLE usage_ledger (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    platform          TEXT    NOT NULL,
    scope             TEXT    NOT NULL,
    user_id           TEXT    NOT NULL,
    backend           TEXT    NOT NULL,
    model             TEXT    NOT NULL,
    prompt_tokens     INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL,
    at_ms             INTEGER NOT NULL
);
CREATE INDEX usage_by_time ON usage_ledger (at_ms);
CREATE INDEX usage_by_user ON usage_ledger (user_id, at_ms);

CREATE TABLE scheduled_jobs (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    namespace TEXT    NOT NULL,
    owner     TEXT    NOT NULL,
    due_ms    INTEGER NOT NULL,
    payload   TEXT    NOT NULL
);
CREATE INDEX jobs_by_due ON scheduled_jobs (due_ms, id);
CREATE INDEX jobs_by_owner ON scheduled_jobs (namespace, owner, due_ms);
