-- Identity, access and knowledge sandboxes: Okta beyond passwords (profiles, apps and their
-- assignments, groups, MFA factors, user lifecycle), Microsoft Entra ID, SharePoint pages and the
-- building badge system. Every write is kept under the caller's idempotency key, so a repeated call
-- returns what the first one did instead of acting twice.

-- Okta user profiles carry the HR attributes Okta's default profile has (employeeNumber, title, manager).
ALTER TABLE okta_users ADD COLUMN employee_number text;
ALTER TABLE okta_users ADD COLUMN title text;
ALTER TABLE okta_users ADD COLUMN manager_id text REFERENCES okta_users (id);
ALTER TABLE okta_users ADD COLUMN mobile_phone text;
CREATE UNIQUE INDEX okta_users_employee_number ON okta_users (employee_number) WHERE employee_number IS NOT NULL;

-- User creation and lifecycle operations (activate, deactivate, suspend, unsuspend), by key.
CREATE TABLE okta_user_lifecycle (
    idempotency_key text PRIMARY KEY,
    user_id         text NOT NULL REFERENCES okta_users (id),
    operation       text NOT NULL CHECK (operation IN ('create', 'activate', 'deactivate', 'suspend', 'unsuspend')),
    from_status     text,
    to_status       text NOT NULL,
    requested_by    text NOT NULL,
    ticket_id       text,
    at              timestamptz NOT NULL DEFAULT now()
);

-- Applications (app instances) and who is assigned to them.
CREATE TABLE okta_apps (
    id             text PRIMARY KEY,             -- 0oa...
    name           text NOT NULL UNIQUE,         -- the app's key, e.g. salesforce
    label          text NOT NULL,                -- what people call it, e.g. Salesforce.com
    status         text NOT NULL CHECK (status IN ('ACTIVE', 'INACTIVE')),
    sign_on_mode   text NOT NULL CHECK (sign_on_mode IN ('SAML_2_0', 'OPENID_CONNECT', 'WS_FEDERATION', 'AUTO_LOGIN', 'BOOKMARK')),
    licence_limit  int CHECK (licence_limit > 0), -- seats the app's provisioning can fill (NULL: no limit)
    created        timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE okta_app_users (
    app_id        text NOT NULL REFERENCES okta_apps (id),
    user_id       text NOT NULL REFERENCES okta_users (id),
    scope         text NOT NULL DEFAULT 'USER' CHECK (scope IN ('USER', 'GROUP')),
    status        text NOT NULL CHECK (status IN ('STAGED', 'PROVISIONED', 'ACTIVE')),
    sync_state    text NOT NULL CHECK (sync_state IN ('DISABLED', 'SYNCHRONIZED', 'ERROR')),
    sync_error    text,
    created       timestamptz NOT NULL DEFAULT now(),
    last_updated  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (app_id, user_id)
);
CREATE INDEX okta_app_users_user ON okta_app_users (user_id);

-- Each user's latest sign-in (SSO) to each app, as Okta's System Log records it
-- (user.authentication.sso). It outlives an assignment, as the log does.
CREATE TABLE okta_app_sign_ins (
    app_id        text NOT NULL REFERENCES okta_apps (id),
    user_id       text NOT NULL REFERENCES okta_users (id),
    last_sign_in  timestamptz NOT NULL,
    PRIMARY KEY (app_id, user_id)
);

-- Assignments and unassignments made through the API, by key; ``snapshot`` keeps the assignment as
-- it was before an unassignment (for the record, and to say what a repeated call did).
CREATE TABLE okta_app_user_changes (
    idempotency_key  text PRIMARY KEY,
    app_id           text NOT NULL REFERENCES okta_apps (id),
    user_id          text NOT NULL REFERENCES okta_users (id),
    action           text NOT NULL CHECK (action IN ('assign', 'unassign')),
    changed          boolean NOT NULL,            -- false: it was already so (nothing changed)
    snapshot         jsonb,
    requested_by     text NOT NULL,
    ticket_id        text,
    at               timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE okta_groups (
    id           text PRIMARY KEY,               -- 00g...
    name         text NOT NULL UNIQUE,
    description  text NOT NULL DEFAULT '',
    type         text NOT NULL DEFAULT 'OKTA_GROUP' CHECK (type IN ('OKTA_GROUP', 'APP_GROUP', 'BUILT_IN'))
);

CREATE TABLE okta_group_members (
    group_id  text NOT NULL REFERENCES okta_groups (id),
    user_id   text NOT NULL REFERENCES okta_users (id),
    PRIMARY KEY (group_id, user_id)
);
CREATE INDEX okta_group_members_user ON okta_group_members (user_id);

-- MFA factors. A TOTP factor's shared secret lives here as it does on Okta's side (it never leaves
-- the sandbox except to the enrolling user, once); an SMS code is kept only as a hash.
CREATE TABLE okta_factors (
    id             text PRIMARY KEY,             -- opf... (push), ost... (totp), mbl... (sms)
    user_id        text NOT NULL REFERENCES okta_users (id),
    factor_type    text NOT NULL CHECK (factor_type IN ('push', 'token:software:totp', 'sms')),
    provider       text NOT NULL CHECK (provider IN ('OKTA', 'GOOGLE')),
    status         text NOT NULL CHECK (status IN ('PENDING_ACTIVATION', 'ACTIVE')),
    profile        jsonb NOT NULL DEFAULT '{}',
    shared_secret  text,
    code_sha256    text,
    created        timestamptz NOT NULL DEFAULT now(),
    last_updated   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (user_id, factor_type, provider)      -- Okta enrols one factor of a type per provider
);

-- Factor resets (unenrolments) made through the API, by key.
CREATE TABLE okta_factor_resets (
    idempotency_key  text PRIMARY KEY,
    user_id          text NOT NULL REFERENCES okta_users (id),
    factor_id        text NOT NULL,
    factor_type      text NOT NULL,
    provider         text NOT NULL,
    requested_by     text NOT NULL,
    ticket_id        text,
    at               timestamptz NOT NULL DEFAULT now()
);

-- Microsoft Entra ID (through Microsoft Graph): users, groups, risky users, and the changes made.
CREATE TABLE entra_users (
    id                           text PRIMARY KEY,  -- a GUID
    user_principal_name          text NOT NULL UNIQUE,
    mail                         text,
    display_name                 text NOT NULL,
    given_name                   text NOT NULL,
    surname                      text NOT NULL,
    department                   text,
    job_title                    text,
    employee_id                  text,
    usage_location               char(2),
    account_enabled              boolean NOT NULL,
    sign_in_sessions_valid_from  timestamptz NOT NULL DEFAULT now(),
    created_date_time            timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE entra_groups (
    id                text PRIMARY KEY,
    display_name      text NOT NULL UNIQUE,
    description       text NOT NULL DEFAULT '',
    mail_nickname     text NOT NULL,
    security_enabled  boolean NOT NULL,
    mail_enabled      boolean NOT NULL
);

CREATE TABLE entra_group_members (
    group_id  text NOT NULL REFERENCES entra_groups (id),
    user_id   text NOT NULL REFERENCES entra_users (id),
    PRIMARY KEY (group_id, user_id)
);
CREATE INDEX entra_group_members_user ON entra_group_members (user_id);

-- Identity Protection's view of a user (riskyUser): level, state and the latest detail.
CREATE TABLE entra_risky_users (
    user_id            text PRIMARY KEY REFERENCES entra_users (id),
    risk_level         text NOT NULL CHECK (risk_level IN ('none', 'low', 'medium', 'high')),
    risk_state         text NOT NULL CHECK (risk_state IN ('none', 'atRisk', 'confirmedCompromised', 'remediated', 'dismissed', 'confirmedSafe')),
    risk_detail        text NOT NULL DEFAULT 'none',
    risk_last_updated  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE entra_changes (
    idempotency_key  text PRIMARY KEY,
    user_id          text NOT NULL REFERENCES entra_users (id),
    operation        text NOT NULL CHECK (operation IN ('disable', 'enable', 'revoke_sessions')),
    before           jsonb NOT NULL,
    requested_by     text NOT NULL,
    ticket_id        text,
    at               timestamptz NOT NULL DEFAULT now()
);

-- SharePoint Online: sites and their modern pages (the knowledge base), searched by relevance.
CREATE TABLE sharepoint_sites (
    id            text PRIMARY KEY,
    name          text NOT NULL UNIQUE,
    display_name  text NOT NULL,
    web_url       text NOT NULL UNIQUE
);

CREATE TABLE sharepoint_pages (
    id                      text PRIMARY KEY,
    site_id                 text NOT NULL REFERENCES sharepoint_sites (id),
    name                    text NOT NULL,       -- the page file, e.g. Connect-to-office-WiFi.aspx
    title                   text NOT NULL,
    description             text NOT NULL,
    body                    text NOT NULL,       -- paragraphs separated by blank lines
    audience                text NOT NULL DEFAULT 'all' CHECK (audience IN ('all', 'US', 'IN')),
    web_url                 text NOT NULL UNIQUE,
    created_by              text NOT NULL,
    last_modified_date_time timestamptz NOT NULL,
    UNIQUE (site_id, name)
);

-- The building access system: sites' zones (doors), cardholders, their badges and badge zones.
CREATE TABLE facilities_zones (
    code        text PRIMARY KEY,                -- e.g. HQ-L3
    site        text NOT NULL CHECK (site IN ('HQ', 'BLR')),
    name        text NOT NULL,
    restricted  boolean NOT NULL DEFAULT false   -- only cardholders with security clearance
);

CREATE TABLE facilities_cardholders (
    id          text PRIMARY KEY,                -- CH-...
    login       text NOT NULL UNIQUE,
    name        text NOT NULL,
    home_site   text NOT NULL CHECK (home_site IN ('HQ', 'BLR')),
    status      text NOT NULL CHECK (status IN ('active', 'inactive')),
    clearance   boolean NOT NULL DEFAULT false
);

CREATE TABLE facilities_badges (
    id              text PRIMARY KEY,            -- the number printed on the card, e.g. 0412873
    holder_id       text NOT NULL REFERENCES facilities_cardholders (id),
    status          text NOT NULL CHECK (status IN ('active', 'suspended', 'returned')),
    issued_at       timestamptz NOT NULL DEFAULT now(),
    status_changed  timestamptz NOT NULL DEFAULT now(),
    status_reason   text
);
-- A holder has at most one badge that is not returned.
CREATE UNIQUE INDEX facilities_badges_one_per_holder ON facilities_badges (holder_id) WHERE status <> 'returned';

CREATE TABLE facilities_badge_zones (
    badge_id    text NOT NULL REFERENCES facilities_badges (id),
    zone        text NOT NULL REFERENCES facilities_zones (code),
    granted_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (badge_id, zone)
);

CREATE TABLE facilities_changes (
    idempotency_key  text PRIMARY KEY,
    badge_id         text NOT NULL REFERENCES facilities_badges (id),
    operation        text NOT NULL CHECK (operation IN ('issue', 'add_zone', 'remove_zone', 'suspend', 'reactivate', 'return')),
    result           jsonb NOT NULL,
    requested_by     text NOT NULL,
    ticket_id        text,
    at               timestamptz NOT NULL DEFAULT now()
);
