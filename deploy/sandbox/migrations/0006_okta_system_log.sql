-- Okta's System Log (GET /api/v1/logs): one LogEvent per write the Okta API performed, as Okta records
-- it: who (actor), from which client (its raw User-Agent), on what (targets), with what outcome.
-- Sign-ins are not copied here: the log serves okta_app_sign_ins as user.authentication.sso events.
CREATE TABLE okta_system_log (
    uuid text PRIMARY KEY,
    published timestamp with time zone DEFAULT clock_timestamp() NOT NULL,
    event_type text NOT NULL,
    display_message text NOT NULL,
    severity text DEFAULT 'INFO'::text NOT NULL,
    actor jsonb NOT NULL,
    client jsonb NOT NULL,
    outcome jsonb NOT NULL,
    target jsonb NOT NULL,
    transaction jsonb NOT NULL,
    debug_context jsonb NOT NULL
);

CREATE INDEX okta_system_log_published ON okta_system_log USING btree (published, uuid);
CREATE INDEX okta_system_log_target ON okta_system_log USING gin (target jsonb_path_ops);
