-- The upstream service desks' state (ServiceNow's Table API, Zendesk's Tickets API), which until now
-- lived in each simulator's memory and was lost when it restarted. A record is kept as `json`, not
-- `jsonb`: its keys come back in the order they were written, which is the order a client of the
-- vendor's API sees them in. Each id sequence is OWNED BY a column, so TRUNCATE ... RESTART IDENTITY
-- (a simulator's reset, `python -m deploy.sandbox seed --reset`) starts the ids again as a new
-- instance or account would.

-- ServiceNow: the incident table and the journal (sys_journal_field) its comments and work notes
-- are appended to. Every field value is the string the Table API stores, timestamps included.
CREATE TABLE servicenow_incidents (
    position bigint GENERATED ALWAYS AS IDENTITY,  -- the order an unsorted list returns them in
    sys_id text PRIMARY KEY,
    number text NOT NULL UNIQUE,
    fields json NOT NULL  -- every field of the incident, as the Table API returns it
);

CREATE SEQUENCE servicenow_incident_numbers START 10001 OWNED BY servicenow_incidents.number;  -- INC0010001, ...

CREATE TABLE servicenow_journal (
    position bigint GENERATED ALWAYS AS IDENTITY,
    sys_id text PRIMARY KEY,
    element text NOT NULL,  -- comments or work_notes
    element_id text NOT NULL REFERENCES servicenow_incidents (sys_id),
    name text NOT NULL,  -- the table of the record the entry is on: incident
    value text NOT NULL,
    sys_created_by text NOT NULL,
    sys_created_on text NOT NULL,
    sys_tags text DEFAULT ''::text NOT NULL
);

CREATE INDEX servicenow_journal_element ON servicenow_journal USING btree (element_id, position);

-- Zendesk: one account's users, tickets, comments and audits, each record as the API renders it
-- (less the URL, which names the server it is read from). Ids come from one sequence per kind, as
-- Zendesk's do; an audit's events carry ids of their own.
CREATE TABLE zendesk_users (
    id bigint PRIMARY KEY,
    email text NOT NULL,  -- '' for a user without one
    record json NOT NULL
);

CREATE INDEX zendesk_users_email ON zendesk_users USING btree (lower(email));

CREATE TABLE zendesk_tickets (
    id bigint PRIMARY KEY,
    record json NOT NULL
);

CREATE TABLE zendesk_comments (
    id bigint PRIMARY KEY,
    ticket_id bigint NOT NULL REFERENCES zendesk_tickets (id),
    record json NOT NULL
);

CREATE INDEX zendesk_comments_ticket ON zendesk_comments USING btree (ticket_id, id);

CREATE TABLE zendesk_audits (
    id bigint PRIMARY KEY,
    ticket_id bigint NOT NULL REFERENCES zendesk_tickets (id),
    record json NOT NULL
);

CREATE INDEX zendesk_audits_ticket ON zendesk_audits USING btree (ticket_id, id);

CREATE SEQUENCE zendesk_user_ids START 372000000001 OWNED BY zendesk_users.id;
CREATE SEQUENCE zendesk_ticket_ids START 1 OWNED BY zendesk_tickets.id;
CREATE SEQUENCE zendesk_comment_ids START 900000000001 OWNED BY zendesk_comments.id;
CREATE SEQUENCE zendesk_audit_ids START 800000000001 OWNED BY zendesk_audits.id;
CREATE SEQUENCE zendesk_event_ids START 700000000001 OWNED BY zendesk_audits.record;  -- events live inside their audit
