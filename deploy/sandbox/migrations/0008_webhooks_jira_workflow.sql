-- Issue 16: the simulated systems send webhooks, and Jira issues move through a workflow.

-- Webhook subscriptions, as each vendor's administrator registers one (a URL, a signing secret, the
-- events wanted; NULL events: every event the system sends). Kept by a restart of the simulator.
CREATE TABLE sandbox_webhooks (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    system text NOT NULL CHECK (system IN ('jira', 'servicenow', 'zendesk')),
    url text NOT NULL,
    secret text NOT NULL,
    events text[],
    created timestamp with time zone DEFAULT now() NOT NULL
);

-- The outbox: one row per event per subscription, written in the transaction of the change that
-- caused it (so a change and its webhook commit together), sent after the commit and retried.
-- `body` is the exact text that is signed and sent; `key` is the vendor's delivery identifier,
-- the same across retries.
CREATE TABLE sandbox_webhook_deliveries (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    webhook_id bigint NOT NULL REFERENCES sandbox_webhooks (id) ON DELETE CASCADE,
    system text NOT NULL,
    event text NOT NULL,
    key text NOT NULL,
    body text NOT NULL,
    status text DEFAULT 'pending' NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts jsonb DEFAULT '[]'::jsonb NOT NULL,  -- [{at, status, error, ms}], one per attempt
    due timestamp with time zone DEFAULT now() NOT NULL,  -- when the next attempt may start
    created timestamp with time zone DEFAULT now() NOT NULL,
    delivered timestamp with time zone
);

CREATE INDEX sandbox_webhook_deliveries_due ON sandbox_webhook_deliveries USING btree (due) WHERE status = 'pending';

-- Jira: who an issue is assigned to (the account's name, as reporter is), and when it changed;
-- the ADF a description or a comment was written in, and a comment's entity properties (JSM's
-- sd.public.comment), kept as given.
ALTER TABLE jira_issues ADD COLUMN assignee text;
ALTER TABLE jira_issues ADD COLUMN description_adf jsonb;
ALTER TABLE jira_comments ADD COLUMN body_adf jsonb;
ALTER TABLE jira_comments ADD COLUMN properties jsonb DEFAULT '[]'::jsonb NOT NULL;

-- The accountId the Jira simulator shows for an account name (what api/jira.py's _user computes).
CREATE FUNCTION jira_account_id(name text) RETURNS text LANGUAGE sql IMMUTABLE AS
$$ SELECT '712020:' || (left(encode(sha256(convert_to(name, 'UTF8')), 'hex'), 32))::uuid::text $$;
