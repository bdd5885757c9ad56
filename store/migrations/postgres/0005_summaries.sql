-- natter schema 5 (Postgres): each conversation's rolling summary of the turns
-- that no longer fit the model's context window, and how many of its oldest
-- turns it covers.
CREATE TABLE summaries (
    platform      TEXT   NOT NULL,
    scope         TEXT   NOT NULL,
    text          TEXT   NOT NULL,
    turns_covered BIGINT NOT NULL,
    updated_at_ms BIGINT NOT NULL,
    PRIMARY KEY (platform, scope)
);
