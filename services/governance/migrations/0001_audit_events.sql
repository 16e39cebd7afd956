-- Every event of every topic, once (unique on event id), in the order governance received them.
CREATE TABLE audit_events (
    seq             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id        text NOT NULL UNIQUE,
    type            text NOT NULL,
    source          text NOT NULL,
    subject         text,
    team            text NOT NULL,
    actor           text NOT NULL,
    correlation_id  text NOT NULL,
    causation_id    text,
    schema_version  int NOT NULL,
    event_time      timestamptz NOT NULL,
    recorded_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
    event           jsonb NOT NULL
);
CREATE INDEX audit_events_ticket ON audit_events (correlation_id);
CREATE INDEX audit_events_team_time ON audit_events (team, event_time);
CREATE INDEX audit_events_type ON audit_events (type);

-- Append-only: the trail cannot be edited or shortened through SQL, by anyone who does not first
-- disable the trigger (which a later migration restricts to the owner role).
CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_events is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER audit_events_no_update_delete BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_events_append_only();
CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only();
