-- The JumpCloud-like device directory: system users, the systems (devices) bound to them, what
-- System Insights last collected from each agent, and the commands run on them with their results.
CREATE TABLE jumpcloud_users (
    id          text PRIMARY KEY,                -- 24-hex object id, as JumpCloud's
    username    text NOT NULL UNIQUE,
    email       text NOT NULL UNIQUE,
    firstname   text NOT NULL,
    lastname    text NOT NULL,
    state       text NOT NULL CHECK (state IN ('STAGED', 'ACTIVATED', 'SUSPENDED'))
);

CREATE TABLE jumpcloud_systems (
    id             text PRIMARY KEY,
    hostname       text NOT NULL UNIQUE,
    display_name   text NOT NULL,
    os             text NOT NULL CHECK (os IN ('Mac OS X', 'Windows')),
    os_version     text NOT NULL,
    arch           text NOT NULL,
    agent_version  text NOT NULL,
    serial_number  text NOT NULL,
    active         boolean NOT NULL,             -- the agent is connected
    last_contact   timestamptz NOT NULL,
    fde_active     boolean NOT NULL,             -- full-disk encryption (FileVault / BitLocker)
    created        timestamptz NOT NULL DEFAULT now()
);

-- The user <-> system graph associations (``/api/v2/users/{id}/systems``).
CREATE TABLE jumpcloud_system_users (
    system_id  text NOT NULL REFERENCES jumpcloud_systems (id),
    user_id    text NOT NULL REFERENCES jumpcloud_users (id),
    PRIMARY KEY (system_id, user_id)
);
CREATE INDEX jumpcloud_system_users_user ON jumpcloud_system_users (user_id);

-- The latest System Insights collection per system. ``apps[].fault`` is the sandbox's hidden cause
-- of an app's misbehaviour (hung, corrupt_cache, incompatible): no API returns it, commands meet it.
CREATE TABLE jumpcloud_insights (
    system_id          text PRIMARY KEY REFERENCES jumpcloud_systems (id),
    collected_at       timestamptz NOT NULL,
    cpu_load_pct       double precision NOT NULL,
    memory_total_gb    integer NOT NULL,
    memory_used_pct    double precision NOT NULL,
    disk_total_gb      integer NOT NULL,
    disk_free_gb       double precision NOT NULL,
    cache_gb           double precision NOT NULL,  -- purgeable caches and temp files
    battery_health_pct double precision,           -- NULL: no battery
    battery_cycles     integer,
    uptime_days        double precision NOT NULL,
    pending_patches    text[] NOT NULL,
    processes          jsonb NOT NULL,             -- [{name, pid, cpu_pct, memory_mb, respawns}]
    apps               jsonb NOT NULL              -- [{name, version, state, crashes_7d, fault}]
);

-- Commands run on a system and their results; a command to an offline agent waits (no response).
CREATE TABLE jumpcloud_commands (
    id               text PRIMARY KEY,
    name             text NOT NULL,
    command          text NOT NULL,
    command_type     text NOT NULL CHECK (command_type IN ('mac', 'windows')),
    system_id        text NOT NULL REFERENCES jumpcloud_systems (id),
    action           text NOT NULL,
    target           text,
    idempotency_key  text NOT NULL UNIQUE,
    requested_by     text NOT NULL,               -- the coworker whose API key ran it
    ticket_id        text NOT NULL,
    request_time     timestamptz NOT NULL DEFAULT now(),
    response_time    timestamptz,
    exit_code        integer,
    output           text NOT NULL DEFAULT ''
);
CREATE INDEX jumpcloud_commands_system ON jumpcloud_commands (system_id);

-- The Jira-like tracker: projects, issues with Jira's statuses and priorities, links, comments.
CREATE TABLE jira_projects (
    key          text PRIMARY KEY,
    id           text NOT NULL UNIQUE,
    name         text NOT NULL,
    issue_types  text[] NOT NULL,
    next_number  integer NOT NULL DEFAULT 1
);

CREATE TABLE jira_issue_link_types (
    name     text PRIMARY KEY,
    inward   text NOT NULL,
    outward  text NOT NULL
);
INSERT INTO jira_issue_link_types (name, inward, outward) VALUES
    ('Relates', 'relates to', 'relates to'),
    ('Blocks', 'is blocked by', 'blocks'),
    ('Duplicate', 'is duplicated by', 'duplicates'),
    ('Problem/Incident', 'is caused by', 'causes');

CREATE SEQUENCE jira_ids START 20000;

CREATE TABLE jira_issues (
    id               text PRIMARY KEY,             -- numeric string, as Jira's
    key              text NOT NULL UNIQUE,         -- e.g. INC-12
    project_key      text NOT NULL REFERENCES jira_projects (key),
    issue_type       text NOT NULL,
    summary          text NOT NULL CHECK (length(summary) BETWEEN 1 AND 255),
    description      text NOT NULL DEFAULT '',
    priority         text NOT NULL CHECK (priority IN ('Highest', 'High', 'Medium', 'Low', 'Lowest')),
    status           text NOT NULL,
    status_category  text NOT NULL CHECK (status_category IN ('new', 'indeterminate', 'done')),
    labels           text[] NOT NULL DEFAULT '{}',
    reporter         text NOT NULL,
    ticket_id        text,
    idempotency_key  text UNIQUE,
    created          timestamptz NOT NULL DEFAULT now(),
    updated          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX jira_issues_labels ON jira_issues USING gin (labels);

CREATE TABLE jira_issue_links (
    id           text PRIMARY KEY DEFAULT nextval('jira_ids')::text,
    link_type    text NOT NULL REFERENCES jira_issue_link_types (name),
    inward_key   text NOT NULL REFERENCES jira_issues (key),
    outward_key  text NOT NULL REFERENCES jira_issues (key),
    created_by   text NOT NULL,
    created      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (link_type, inward_key, outward_key)
);

CREATE TABLE jira_comments (
    id               text PRIMARY KEY DEFAULT nextval('jira_ids')::text,
    issue_key        text NOT NULL REFERENCES jira_issues (key),
    body             text NOT NULL,
    author           text NOT NULL,
    idempotency_key  text UNIQUE,
    created          timestamptz NOT NULL DEFAULT now()
);

-- The Slack-like workspace: people and bots, channels and who is in them, user groups (on-call
-- rotations, whose default channels say where they are on call), and the messages posted.
CREATE TABLE slack_users (
    id         text PRIMARY KEY,                   -- U... for people, B... style ids for bots
    name       text NOT NULL UNIQUE,
    real_name  text NOT NULL,
    email      text UNIQUE,
    is_bot     boolean NOT NULL DEFAULT false,
    deleted    boolean NOT NULL DEFAULT false
);

CREATE TABLE slack_channels (
    id           text PRIMARY KEY,                 -- C...
    name         text NOT NULL UNIQUE,
    is_private   boolean NOT NULL DEFAULT false,
    is_archived  boolean NOT NULL DEFAULT false,
    topic        text NOT NULL DEFAULT '',
    purpose      text NOT NULL DEFAULT ''
);

CREATE TABLE slack_channel_members (
    channel_id  text NOT NULL REFERENCES slack_channels (id),
    user_id     text NOT NULL REFERENCES slack_users (id),
    PRIMARY KEY (channel_id, user_id)
);

CREATE TABLE slack_usergroups (
    id           text PRIMARY KEY,                 -- S...
    handle       text NOT NULL UNIQUE,
    name         text NOT NULL,
    description  text NOT NULL DEFAULT '',
    channels     text[] NOT NULL DEFAULT '{}',     -- prefs.channels: the group's default channels
    users        text[] NOT NULL DEFAULT '{}'
);

CREATE TABLE slack_messages (
    channel_id       text NOT NULL REFERENCES slack_channels (id),
    ts               text NOT NULL,
    user_id          text NOT NULL REFERENCES slack_users (id),
    text             text NOT NULL,
    idempotency_key  text UNIQUE,
    posted_by        text,                         -- the coworker whose token posted it
    ticket_id        text,
    posted_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (channel_id, ts)
);
