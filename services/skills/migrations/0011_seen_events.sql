-- The first content seen under each event id of the topics whose ids come from outside (runtime/seen.py):
-- a second, different event under the same id is a conflict, dead-lettered, never merged.
CREATE TABLE seen_events (
    event_id text PRIMARY KEY,
    digest   bytea NOT NULL,
    seen_at  timestamptz NOT NULL DEFAULT now()
);
