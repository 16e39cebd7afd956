-- Coworkers as governance owns them: lifecycle state, which version is active, which is a draft.
CREATE TABLE coworkers (
    name            text PRIMARY KEY,
    state           text NOT NULL CHECK (state IN ('draft', 'active', 'suspended', 'offboarded')),
    active_version  int,
    draft_version   int,
    revision        int NOT NULL,             -- counts accepted changes
    changed_at      timestamptz NOT NULL DEFAULT now(),
    changed_by      text NOT NULL
);

-- Every manifest version ever applied; versions are never edited or deleted.
CREATE TABLE coworker_versions (
    name        text NOT NULL REFERENCES coworkers (name),
    version     int NOT NULL,
    manifest    jsonb NOT NULL,
    applied_at  timestamptz NOT NULL DEFAULT now(),
    applied_by  text NOT NULL,
    PRIMARY KEY (name, version)
);

-- Each lifecycle command once: a redelivered command replays the events it produced.
CREATE TABLE coworker_commands (
    command_id    text PRIMARY KEY,
    events        jsonb NOT NULL,
    processed_at  timestamptz NOT NULL DEFAULT now()
);
