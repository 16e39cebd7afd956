-- The role governance works as (SET ROLE at connect; see services/governance/audit.py): it may read
-- and append the audit trail, never change or shorten it. Migrations run as the connecting user, who
-- owns the tables; the role is cluster-wide, so it is made once and shared by every database.
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'workforce_governance') THEN
        BEGIN
            CREATE ROLE workforce_governance NOLOGIN;
        EXCEPTION WHEN duplicate_object OR unique_violation THEN
            NULL;  -- another database's migration made it at the same moment
        END;
    END IF;
    -- The connecting user must be able to SET ROLE to it (a superuser always can).
    IF NOT pg_has_role(current_user, 'workforce_governance', 'MEMBER') THEN
        EXECUTE format('GRANT workforce_governance TO %I', current_user);
    END IF;
    EXECUTE format('GRANT USAGE ON SCHEMA %I TO workforce_governance', current_schema());
END $$;

REVOKE ALL ON audit_events FROM workforce_governance;
GRANT SELECT, INSERT ON audit_events TO workforce_governance;               -- no UPDATE, DELETE, TRUNCATE
GRANT SELECT, INSERT, UPDATE ON coworkers TO workforce_governance;          -- the lifecycle's current state
GRANT SELECT, INSERT ON coworker_versions, coworker_commands TO workforce_governance;

-- Retention per team: every setting is kept (the newest applies), with who set it.
CREATE TABLE audit_retention (
    team        text NOT NULL,
    keep_days   int NOT NULL CHECK (keep_days >= 1),
    set_by      text NOT NULL,
    set_at      timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (team, set_at)
);

-- Legal holds: on a whole team, or on one ticket's records. A held record is never removed by
-- retention, and neither is anything after it in its team's chain.
CREATE TABLE audit_legal_holds (
    hold_id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    team            text NOT NULL,
    correlation_id  text,                       -- NULL: the whole team
    reason          text NOT NULL,
    placed_by       text NOT NULL,
    placed_at       timestamptz NOT NULL DEFAULT clock_timestamp(),
    released_by     text,
    released_at     timestamptz
);

-- Where each team's chain starts after retention removed its oldest records: verification starts
-- from the last anchor (the hash of the last removed record), so the chain still proves itself.
CREATE TABLE audit_retention_anchors (
    team          text NOT NULL,
    through_seq   bigint NOT NULL,
    through_hash  bytea NOT NULL,
    removed       bigint NOT NULL,
    applied_by    text NOT NULL,
    applied_at    timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (team, through_seq)
);

GRANT SELECT ON audit_retention, audit_legal_holds, audit_retention_anchors TO workforce_governance;

-- The trigger still refuses UPDATE and TRUNCATE to everyone, and DELETE to everyone but the
-- retention job (the owner, in a transaction that says so; the application role has no DELETE).
CREATE OR REPLACE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' AND current_setting('workforce.audit_retention', true) = 'apply' THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'audit_events is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END $$;

-- Search by coworker and system reads these.
CREATE INDEX audit_events_coworker ON audit_events ((event->'data'->>'coworker'), event_time);
CREATE INDEX audit_events_time ON audit_events (event_time);
