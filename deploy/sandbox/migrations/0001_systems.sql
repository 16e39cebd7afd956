-- The simulated systems' state, in their own schema (moved out of the skills service's schema, where
-- skills migrations 0001-0008 had built it; this is that schema as built, dumped).

CREATE SEQUENCE workday_employee_ids START 300001;  -- employee IDs assigned at hire
CREATE SEQUENCE jira_ids START 20000;

CREATE TABLE entra_changes (
    idempotency_key text NOT NULL,
    user_id text NOT NULL,
    operation text NOT NULL,
    before jsonb NOT NULL,
    requested_by text NOT NULL,
    ticket_id text,
    at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT entra_changes_operation_check CHECK ((operation = ANY (ARRAY['disable'::text, 'enable'::text, 'revoke_sessions'::text])))
);

CREATE TABLE entra_group_members (
    group_id text NOT NULL,
    user_id text NOT NULL
);

CREATE TABLE entra_groups (
    id text NOT NULL,
    display_name text NOT NULL,
    description text DEFAULT ''::text NOT NULL,
    mail_nickname text NOT NULL,
    security_enabled boolean NOT NULL,
    mail_enabled boolean NOT NULL
);

CREATE TABLE entra_risky_users (
    user_id text NOT NULL,
    risk_level text NOT NULL,
    risk_state text NOT NULL,
    risk_detail text DEFAULT 'none'::text NOT NULL,
    risk_last_updated timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT entra_risky_users_risk_level_check CHECK ((risk_level = ANY (ARRAY['none'::text, 'low'::text, 'medium'::text, 'high'::text]))),
    CONSTRAINT entra_risky_users_risk_state_check CHECK ((risk_state = ANY (ARRAY['none'::text, 'atRisk'::text, 'confirmedCompromised'::text, 'remediated'::text, 'dismissed'::text, 'confirmedSafe'::text])))
);

CREATE TABLE entra_users (
    id text NOT NULL,
    user_principal_name text NOT NULL,
    mail text,
    display_name text NOT NULL,
    given_name text NOT NULL,
    surname text NOT NULL,
    department text,
    job_title text,
    employee_id text,
    usage_location character(2),
    account_enabled boolean NOT NULL,
    sign_in_sessions_valid_from timestamp with time zone DEFAULT now() NOT NULL,
    created_date_time timestamp with time zone DEFAULT now() NOT NULL
);

CREATE TABLE facilities_badge_zones (
    badge_id text NOT NULL,
    zone text NOT NULL,
    granted_at timestamp with time zone DEFAULT now() NOT NULL
);

CREATE TABLE facilities_badges (
    id text NOT NULL,
    holder_id text NOT NULL,
    status text NOT NULL,
    issued_at timestamp with time zone DEFAULT now() NOT NULL,
    status_changed timestamp with time zone DEFAULT now() NOT NULL,
    status_reason text,
    CONSTRAINT facilities_badges_status_check CHECK ((status = ANY (ARRAY['active'::text, 'suspended'::text, 'returned'::text])))
);

CREATE TABLE facilities_cardholders (
    id text NOT NULL,
    login text NOT NULL,
    name text NOT NULL,
    home_site text NOT NULL,
    status text NOT NULL,
    clearance boolean DEFAULT false NOT NULL,
    CONSTRAINT facilities_cardholders_home_site_check CHECK ((home_site = ANY (ARRAY['HQ'::text, 'BLR'::text]))),
    CONSTRAINT facilities_cardholders_status_check CHECK ((status = ANY (ARRAY['active'::text, 'inactive'::text])))
);

CREATE TABLE facilities_changes (
    idempotency_key text NOT NULL,
    badge_id text NOT NULL,
    operation text NOT NULL,
    result jsonb NOT NULL,
    requested_by text NOT NULL,
    ticket_id text,
    at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT facilities_changes_operation_check CHECK ((operation = ANY (ARRAY['issue'::text, 'add_zone'::text, 'remove_zone'::text, 'suspend'::text, 'reactivate'::text, 'return'::text])))
);

CREATE TABLE facilities_zones (
    code text NOT NULL,
    site text NOT NULL,
    name text NOT NULL,
    restricted boolean DEFAULT false NOT NULL,
    CONSTRAINT facilities_zones_site_check CHECK ((site = ANY (ARRAY['HQ'::text, 'BLR'::text])))
);

CREATE TABLE jira_comments (
    id text DEFAULT (nextval('jira_ids'::regclass))::text NOT NULL,
    issue_key text NOT NULL,
    body text NOT NULL,
    author text NOT NULL,
    idempotency_key text,
    created timestamp with time zone DEFAULT now() NOT NULL
);

CREATE TABLE jira_issue_link_types (
    name text NOT NULL,
    inward text NOT NULL,
    outward text NOT NULL
);

CREATE TABLE jira_issue_links (
    id text DEFAULT (nextval('jira_ids'::regclass))::text NOT NULL,
    link_type text NOT NULL,
    inward_key text NOT NULL,
    outward_key text NOT NULL,
    created_by text NOT NULL,
    created timestamp with time zone DEFAULT now() NOT NULL
);

CREATE TABLE jira_issues (
    id text NOT NULL,
    key text NOT NULL,
    project_key text NOT NULL,
    issue_type text NOT NULL,
    summary text NOT NULL,
    description text DEFAULT ''::text NOT NULL,
    priority text NOT NULL,
    status text NOT NULL,
    status_category text NOT NULL,
    labels text[] DEFAULT '{}'::text[] NOT NULL,
    reporter text NOT NULL,
    ticket_id text,
    idempotency_key text,
    created timestamp with time zone DEFAULT now() NOT NULL,
    updated timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT jira_issues_priority_check CHECK ((priority = ANY (ARRAY['Highest'::text, 'High'::text, 'Medium'::text, 'Low'::text, 'Lowest'::text]))),
    CONSTRAINT jira_issues_status_category_check CHECK ((status_category = ANY (ARRAY['new'::text, 'indeterminate'::text, 'done'::text]))),
    CONSTRAINT jira_issues_summary_check CHECK (((length(summary) >= 1) AND (length(summary) <= 255)))
);

CREATE TABLE jira_projects (
    key text NOT NULL,
    id text NOT NULL,
    name text NOT NULL,
    issue_types text[] NOT NULL,
    next_number integer DEFAULT 1 NOT NULL
);

CREATE TABLE jumpcloud_commands (
    id text NOT NULL,
    name text NOT NULL,
    command text NOT NULL,
    command_type text NOT NULL,
    system_id text NOT NULL,
    action text NOT NULL,
    target text,
    idempotency_key text NOT NULL,
    requested_by text NOT NULL,
    ticket_id text NOT NULL,
    request_time timestamp with time zone DEFAULT now() NOT NULL,
    response_time timestamp with time zone,
    exit_code integer,
    output text DEFAULT ''::text NOT NULL,
    CONSTRAINT jumpcloud_commands_command_type_check CHECK ((command_type = ANY (ARRAY['mac'::text, 'windows'::text])))
);

CREATE TABLE jumpcloud_insights (
    system_id text NOT NULL,
    collected_at timestamp with time zone NOT NULL,
    cpu_load_pct double precision NOT NULL,
    memory_total_gb integer NOT NULL,
    memory_used_pct double precision NOT NULL,
    disk_total_gb integer NOT NULL,
    disk_free_gb double precision NOT NULL,
    cache_gb double precision NOT NULL,
    battery_health_pct double precision,
    battery_cycles integer,
    uptime_days double precision NOT NULL,
    pending_patches text[] NOT NULL,
    processes jsonb NOT NULL,
    apps jsonb NOT NULL
);

CREATE TABLE jumpcloud_system_users (
    system_id text NOT NULL,
    user_id text NOT NULL
);

CREATE TABLE jumpcloud_systems (
    id text NOT NULL,
    hostname text NOT NULL,
    display_name text NOT NULL,
    os text NOT NULL,
    os_version text NOT NULL,
    arch text NOT NULL,
    agent_version text NOT NULL,
    serial_number text NOT NULL,
    active boolean NOT NULL,
    last_contact timestamp with time zone NOT NULL,
    fde_active boolean NOT NULL,
    created timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT jumpcloud_systems_os_check CHECK ((os = ANY (ARRAY['Mac OS X'::text, 'Windows'::text])))
);

CREATE TABLE jumpcloud_users (
    id text NOT NULL,
    username text NOT NULL,
    email text NOT NULL,
    firstname text NOT NULL,
    lastname text NOT NULL,
    state text NOT NULL,
    CONSTRAINT jumpcloud_users_state_check CHECK ((state = ANY (ARRAY['STAGED'::text, 'ACTIVATED'::text, 'SUSPENDED'::text])))
);

CREATE TABLE okta_app_sign_ins (
    app_id text NOT NULL,
    user_id text NOT NULL,
    last_sign_in timestamp with time zone NOT NULL
);

CREATE TABLE okta_app_user_changes (
    idempotency_key text NOT NULL,
    app_id text NOT NULL,
    user_id text NOT NULL,
    action text NOT NULL,
    changed boolean NOT NULL,
    snapshot jsonb,
    requested_by text NOT NULL,
    ticket_id text,
    at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT okta_app_user_changes_action_check CHECK ((action = ANY (ARRAY['assign'::text, 'unassign'::text])))
);

CREATE TABLE okta_app_users (
    app_id text NOT NULL,
    user_id text NOT NULL,
    scope text DEFAULT 'USER'::text NOT NULL,
    status text NOT NULL,
    sync_state text NOT NULL,
    sync_error text,
    created timestamp with time zone DEFAULT now() NOT NULL,
    last_updated timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT okta_app_users_scope_check CHECK ((scope = ANY (ARRAY['USER'::text, 'GROUP'::text]))),
    CONSTRAINT okta_app_users_status_check CHECK ((status = ANY (ARRAY['STAGED'::text, 'PROVISIONED'::text, 'ACTIVE'::text]))),
    CONSTRAINT okta_app_users_sync_state_check CHECK ((sync_state = ANY (ARRAY['DISABLED'::text, 'SYNCHRONIZED'::text, 'ERROR'::text])))
);

CREATE TABLE okta_apps (
    id text NOT NULL,
    name text NOT NULL,
    label text NOT NULL,
    status text NOT NULL,
    sign_on_mode text NOT NULL,
    licence_limit integer,
    created timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT okta_apps_licence_limit_check CHECK ((licence_limit > 0)),
    CONSTRAINT okta_apps_sign_on_mode_check CHECK ((sign_on_mode = ANY (ARRAY['SAML_2_0'::text, 'OPENID_CONNECT'::text, 'WS_FEDERATION'::text, 'AUTO_LOGIN'::text, 'BOOKMARK'::text]))),
    CONSTRAINT okta_apps_status_check CHECK ((status = ANY (ARRAY['ACTIVE'::text, 'INACTIVE'::text])))
);

CREATE TABLE okta_emails (
    id bigint NOT NULL,
    user_id text NOT NULL,
    to_address text NOT NULL,
    template text NOT NULL,
    token_sha256 text NOT NULL,
    sent_at timestamp with time zone DEFAULT now() NOT NULL
);

CREATE SEQUENCE okta_emails_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

ALTER SEQUENCE okta_emails_id_seq OWNED BY okta_emails.id;

CREATE TABLE okta_factor_resets (
    idempotency_key text NOT NULL,
    user_id text NOT NULL,
    factor_id text NOT NULL,
    factor_type text NOT NULL,
    provider text NOT NULL,
    requested_by text NOT NULL,
    ticket_id text,
    at timestamp with time zone DEFAULT now() NOT NULL
);

CREATE TABLE okta_factors (
    id text NOT NULL,
    user_id text NOT NULL,
    factor_type text NOT NULL,
    provider text NOT NULL,
    status text NOT NULL,
    profile jsonb DEFAULT '{}'::jsonb NOT NULL,
    shared_secret text,
    code_sha256 text,
    created timestamp with time zone DEFAULT now() NOT NULL,
    last_updated timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT okta_factors_factor_type_check CHECK ((factor_type = ANY (ARRAY['push'::text, 'token:software:totp'::text, 'sms'::text]))),
    CONSTRAINT okta_factors_provider_check CHECK ((provider = ANY (ARRAY['OKTA'::text, 'GOOGLE'::text]))),
    CONSTRAINT okta_factors_status_check CHECK ((status = ANY (ARRAY['PENDING_ACTIVATION'::text, 'ACTIVE'::text])))
);

CREATE TABLE okta_group_members (
    group_id text NOT NULL,
    user_id text NOT NULL
);

CREATE TABLE okta_groups (
    id text NOT NULL,
    name text NOT NULL,
    description text DEFAULT ''::text NOT NULL,
    type text DEFAULT 'OKTA_GROUP'::text NOT NULL,
    CONSTRAINT okta_groups_type_check CHECK ((type = ANY (ARRAY['OKTA_GROUP'::text, 'APP_GROUP'::text, 'BUILT_IN'::text])))
);

CREATE TABLE okta_password_resets (
    id bigint NOT NULL,
    user_id text NOT NULL,
    idempotency_key text NOT NULL,
    token_sha256 text NOT NULL,
    send_email boolean NOT NULL,
    requested_by text NOT NULL,
    ticket_id text NOT NULL,
    reset_at timestamp with time zone DEFAULT now() NOT NULL
);

CREATE SEQUENCE okta_password_resets_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

ALTER SEQUENCE okta_password_resets_id_seq OWNED BY okta_password_resets.id;

CREATE TABLE okta_user_lifecycle (
    idempotency_key text NOT NULL,
    user_id text NOT NULL,
    operation text NOT NULL,
    from_status text,
    to_status text NOT NULL,
    requested_by text NOT NULL,
    ticket_id text,
    at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT okta_user_lifecycle_operation_check CHECK ((operation = ANY (ARRAY['create'::text, 'activate'::text, 'deactivate'::text, 'suspend'::text, 'unsuspend'::text])))
);

CREATE TABLE okta_users (
    id text NOT NULL,
    login text NOT NULL,
    email text NOT NULL,
    first_name text NOT NULL,
    last_name text NOT NULL,
    country character(2) NOT NULL,
    department text NOT NULL,
    status text NOT NULL,
    created timestamp with time zone DEFAULT now() NOT NULL,
    status_changed timestamp with time zone DEFAULT now() NOT NULL,
    employee_number text,
    title text,
    manager_id text,
    mobile_phone text,
    CONSTRAINT okta_users_status_check CHECK ((status = ANY (ARRAY['STAGED'::text, 'PROVISIONED'::text, 'ACTIVE'::text, 'RECOVERY'::text, 'LOCKED_OUT'::text, 'PASSWORD_EXPIRED'::text, 'SUSPENDED'::text, 'DEPROVISIONED'::text])))
);

CREATE TABLE payroll_employees (
    id text NOT NULL,
    worker_id text NOT NULL,
    employee_id text NOT NULL,
    name text NOT NULL,
    country character(2) NOT NULL,
    currency character(3) NOT NULL,
    location text NOT NULL,
    annual_salary numeric(12,2) NOT NULL,
    hire_date date NOT NULL,
    status text NOT NULL,
    w4_filing_status text,
    w4_furnished boolean,
    i9_status text,
    i9_section2_due date,
    pan text,
    uan text,
    pf_member boolean,
    idempotency_key text,
    enrolled_by text,
    ticket_id text,
    enrolled_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT payroll_employees_annual_salary_check CHECK ((annual_salary > (0)::numeric)),
    CONSTRAINT payroll_employees_check CHECK (((country = 'US'::bpchar) = (currency = 'USD'::bpchar))),
    CONSTRAINT payroll_employees_check1 CHECK (((country <> 'IN'::bpchar) OR ((pan IS NOT NULL) AND (uan IS NOT NULL)))),
    CONSTRAINT payroll_employees_country_check CHECK ((country = ANY (ARRAY['US'::bpchar, 'IN'::bpchar]))),
    CONSTRAINT payroll_employees_currency_check CHECK ((currency = ANY (ARRAY['USD'::bpchar, 'INR'::bpchar]))),
    CONSTRAINT payroll_employees_status_check CHECK ((status = ANY (ARRAY['Active'::text, 'Terminated'::text]))),
    CONSTRAINT payroll_employees_w4_filing_status_check CHECK ((w4_filing_status = ANY (ARRAY['single'::text, 'married_filing_jointly'::text, 'head_of_household'::text])))
);

CREATE TABLE payroll_final_pay (
    id text NOT NULL,
    employee text NOT NULL,
    kind text NOT NULL,
    last_day date NOT NULL,
    pay_date date NOT NULL,
    currency character(3) NOT NULL,
    earnings jsonb NOT NULL,
    gross numeric(12,2) NOT NULL,
    deductions jsonb NOT NULL,
    total_deductions numeric(12,2) NOT NULL,
    net numeric(12,2) NOT NULL,
    leave_units numeric(7,2) NOT NULL,
    years_of_service smallint NOT NULL,
    gratuity_eligible boolean NOT NULL,
    cobra_notice_due date,
    relieving_letter_date date,
    documents text[] NOT NULL,
    status text NOT NULL,
    idempotency_key text NOT NULL,
    created_by text NOT NULL,
    ticket_id text NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT payroll_final_pay_kind_check CHECK ((kind = ANY (ARRAY['Final Paycheck'::text, 'Full and Final Settlement'::text]))),
    CONSTRAINT payroll_final_pay_status_check CHECK ((status = ANY (ARRAY['Calculated'::text, 'Paid'::text])))
);

CREATE TABLE payroll_payslips (
    id text NOT NULL,
    employee text NOT NULL,
    period date NOT NULL,
    pay_date date NOT NULL,
    currency character(3) NOT NULL,
    gross numeric(12,2) NOT NULL,
    deductions jsonb NOT NULL,
    total_deductions numeric(12,2) NOT NULL,
    net numeric(12,2) NOT NULL
);

CREATE TABLE sandbox_api_tokens (
    token_sha256 text NOT NULL,
    coworker text NOT NULL,
    version integer NOT NULL,
    scopes text[] NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    revoked_at timestamp with time zone,
    system text NOT NULL
);

CREATE TABLE sharepoint_pages (
    id text NOT NULL,
    site_id text NOT NULL,
    name text NOT NULL,
    title text NOT NULL,
    description text NOT NULL,
    body text NOT NULL,
    audience text DEFAULT 'all'::text NOT NULL,
    web_url text NOT NULL,
    created_by text NOT NULL,
    last_modified_date_time timestamp with time zone NOT NULL,
    CONSTRAINT sharepoint_pages_audience_check CHECK ((audience = ANY (ARRAY['all'::text, 'US'::text, 'IN'::text])))
);

CREATE TABLE sharepoint_sites (
    id text NOT NULL,
    name text NOT NULL,
    display_name text NOT NULL,
    web_url text NOT NULL
);

CREATE TABLE slack_channel_members (
    channel_id text NOT NULL,
    user_id text NOT NULL
);

CREATE TABLE slack_channels (
    id text NOT NULL,
    name text NOT NULL,
    is_private boolean DEFAULT false NOT NULL,
    is_archived boolean DEFAULT false NOT NULL,
    topic text DEFAULT ''::text NOT NULL,
    purpose text DEFAULT ''::text NOT NULL
);

CREATE TABLE slack_messages (
    channel_id text NOT NULL,
    ts text NOT NULL,
    user_id text NOT NULL,
    text text NOT NULL,
    idempotency_key text,
    posted_by text,
    ticket_id text,
    posted_at timestamp with time zone DEFAULT now() NOT NULL
);

CREATE TABLE slack_usergroups (
    id text NOT NULL,
    handle text NOT NULL,
    name text NOT NULL,
    description text DEFAULT ''::text NOT NULL,
    channels text[] DEFAULT '{}'::text[] NOT NULL,
    users text[] DEFAULT '{}'::text[] NOT NULL
);

CREATE TABLE slack_users (
    id text NOT NULL,
    name text NOT NULL,
    real_name text NOT NULL,
    email text,
    is_bot boolean DEFAULT false NOT NULL,
    deleted boolean DEFAULT false NOT NULL
);

CREATE TABLE workday_staffing_events (
    id text NOT NULL,
    seq bigint NOT NULL,
    worker_id text NOT NULL,
    kind text NOT NULL,
    status text NOT NULL,
    effective_date date NOT NULL,
    reason text,
    idempotency_key text NOT NULL,
    rescind_key text,
    initiated_by text NOT NULL,
    ticket_id text NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    rescinded_at timestamp with time zone,
    CONSTRAINT workday_staffing_events_kind_check CHECK ((kind = ANY (ARRAY['Hire'::text, 'Termination'::text]))),
    CONSTRAINT workday_staffing_events_status_check CHECK ((status = ANY (ARRAY['Successfully Completed'::text, 'Rescinded'::text])))
);

CREATE SEQUENCE workday_staffing_events_seq_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

ALTER SEQUENCE workday_staffing_events_seq_seq OWNED BY workday_staffing_events.seq;

CREATE TABLE workday_time_off_balances (
    worker_id text NOT NULL,
    plan text NOT NULL,
    balance numeric(7,2) NOT NULL,
    as_of date NOT NULL
);

CREATE TABLE workday_time_off_plans (
    name text NOT NULL,
    country character(2) NOT NULL,
    unit text NOT NULL,
    daily_quantity numeric(4,2) NOT NULL,
    "position" smallint NOT NULL,
    CONSTRAINT workday_time_off_plans_unit_check CHECK ((unit = ANY (ARRAY['Hours'::text, 'Days'::text])))
);

CREATE TABLE workday_time_off_requests (
    id text NOT NULL,
    worker_id text NOT NULL,
    plan text NOT NULL,
    start_date date NOT NULL,
    end_date date NOT NULL,
    quantity numeric(7,2) NOT NULL,
    status text NOT NULL,
    awaiting text,
    decided_by text,
    comment text DEFAULT ''::text NOT NULL,
    idempotency_key text NOT NULL,
    cancel_key text,
    requested_by text NOT NULL,
    ticket_id text NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT workday_time_off_requests_quantity_check CHECK ((quantity > (0)::numeric)),
    CONSTRAINT workday_time_off_requests_status_check CHECK ((status = ANY (ARRAY['Submitted'::text, 'Approved'::text, 'Denied'::text, 'Canceled'::text])))
);

CREATE TABLE workday_workers (
    id text NOT NULL,
    employee_id text,
    email text NOT NULL,
    first_name text NOT NULL,
    last_name text NOT NULL,
    country character(2) NOT NULL,
    department text NOT NULL,
    job_title text NOT NULL,
    location text NOT NULL,
    hire_date date NOT NULL,
    manager_id text,
    status text NOT NULL,
    annual_salary numeric(12,2) NOT NULL,
    currency character(3) NOT NULL,
    termination_date date,
    termination_reason text,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT workday_workers_country_check CHECK ((country = ANY (ARRAY['US'::bpchar, 'IN'::bpchar]))),
    CONSTRAINT workday_workers_currency_check CHECK ((currency = ANY (ARRAY['USD'::bpchar, 'INR'::bpchar]))),
    CONSTRAINT workday_workers_status_check CHECK ((status = ANY (ARRAY['Active'::text, 'Terminated'::text, 'Pre-Hire'::text])))
);

ALTER TABLE ONLY okta_emails ALTER COLUMN id SET DEFAULT nextval('okta_emails_id_seq'::regclass);

ALTER TABLE ONLY okta_password_resets ALTER COLUMN id SET DEFAULT nextval('okta_password_resets_id_seq'::regclass);

ALTER TABLE ONLY workday_staffing_events ALTER COLUMN seq SET DEFAULT nextval('workday_staffing_events_seq_seq'::regclass);

ALTER TABLE ONLY entra_changes
    ADD CONSTRAINT entra_changes_pkey PRIMARY KEY (idempotency_key);

ALTER TABLE ONLY entra_group_members
    ADD CONSTRAINT entra_group_members_pkey PRIMARY KEY (group_id, user_id);

ALTER TABLE ONLY entra_groups
    ADD CONSTRAINT entra_groups_display_name_key UNIQUE (display_name);

ALTER TABLE ONLY entra_groups
    ADD CONSTRAINT entra_groups_pkey PRIMARY KEY (id);

ALTER TABLE ONLY entra_risky_users
    ADD CONSTRAINT entra_risky_users_pkey PRIMARY KEY (user_id);

ALTER TABLE ONLY entra_users
    ADD CONSTRAINT entra_users_pkey PRIMARY KEY (id);

ALTER TABLE ONLY entra_users
    ADD CONSTRAINT entra_users_user_principal_name_key UNIQUE (user_principal_name);

ALTER TABLE ONLY facilities_badge_zones
    ADD CONSTRAINT facilities_badge_zones_pkey PRIMARY KEY (badge_id, zone);

ALTER TABLE ONLY facilities_badges
    ADD CONSTRAINT facilities_badges_pkey PRIMARY KEY (id);

ALTER TABLE ONLY facilities_cardholders
    ADD CONSTRAINT facilities_cardholders_login_key UNIQUE (login);

ALTER TABLE ONLY facilities_cardholders
    ADD CONSTRAINT facilities_cardholders_pkey PRIMARY KEY (id);

ALTER TABLE ONLY facilities_changes
    ADD CONSTRAINT facilities_changes_pkey PRIMARY KEY (idempotency_key);

ALTER TABLE ONLY facilities_zones
    ADD CONSTRAINT facilities_zones_pkey PRIMARY KEY (code);

ALTER TABLE ONLY jira_comments
    ADD CONSTRAINT jira_comments_idempotency_key_key UNIQUE (idempotency_key);

ALTER TABLE ONLY jira_comments
    ADD CONSTRAINT jira_comments_pkey PRIMARY KEY (id);

ALTER TABLE ONLY jira_issue_link_types
    ADD CONSTRAINT jira_issue_link_types_pkey PRIMARY KEY (name);

ALTER TABLE ONLY jira_issue_links
    ADD CONSTRAINT jira_issue_links_link_type_inward_key_outward_key_key UNIQUE (link_type, inward_key, outward_key);

ALTER TABLE ONLY jira_issue_links
    ADD CONSTRAINT jira_issue_links_pkey PRIMARY KEY (id);

ALTER TABLE ONLY jira_issues
    ADD CONSTRAINT jira_issues_idempotency_key_key UNIQUE (idempotency_key);

ALTER TABLE ONLY jira_issues
    ADD CONSTRAINT jira_issues_key_key UNIQUE (key);

ALTER TABLE ONLY jira_issues
    ADD CONSTRAINT jira_issues_pkey PRIMARY KEY (id);

ALTER TABLE ONLY jira_projects
    ADD CONSTRAINT jira_projects_id_key UNIQUE (id);

ALTER TABLE ONLY jira_projects
    ADD CONSTRAINT jira_projects_pkey PRIMARY KEY (key);

ALTER TABLE ONLY jumpcloud_commands
    ADD CONSTRAINT jumpcloud_commands_idempotency_key_key UNIQUE (idempotency_key);

ALTER TABLE ONLY jumpcloud_commands
    ADD CONSTRAINT jumpcloud_commands_pkey PRIMARY KEY (id);

ALTER TABLE ONLY jumpcloud_insights
    ADD CONSTRAINT jumpcloud_insights_pkey PRIMARY KEY (system_id);

ALTER TABLE ONLY jumpcloud_system_users
    ADD CONSTRAINT jumpcloud_system_users_pkey PRIMARY KEY (system_id, user_id);

ALTER TABLE ONLY jumpcloud_systems
    ADD CONSTRAINT jumpcloud_systems_hostname_key UNIQUE (hostname);

ALTER TABLE ONLY jumpcloud_systems
    ADD CONSTRAINT jumpcloud_systems_pkey PRIMARY KEY (id);

ALTER TABLE ONLY jumpcloud_users
    ADD CONSTRAINT jumpcloud_users_email_key UNIQUE (email);

ALTER TABLE ONLY jumpcloud_users
    ADD CONSTRAINT jumpcloud_users_pkey PRIMARY KEY (id);

ALTER TABLE ONLY jumpcloud_users
    ADD CONSTRAINT jumpcloud_users_username_key UNIQUE (username);

ALTER TABLE ONLY sandbox_api_tokens
    ADD CONSTRAINT okta_api_tokens_pkey PRIMARY KEY (token_sha256);

ALTER TABLE ONLY okta_app_sign_ins
    ADD CONSTRAINT okta_app_sign_ins_pkey PRIMARY KEY (app_id, user_id);

ALTER TABLE ONLY okta_app_user_changes
    ADD CONSTRAINT okta_app_user_changes_pkey PRIMARY KEY (idempotency_key);

ALTER TABLE ONLY okta_app_users
    ADD CONSTRAINT okta_app_users_pkey PRIMARY KEY (app_id, user_id);

ALTER TABLE ONLY okta_apps
    ADD CONSTRAINT okta_apps_name_key UNIQUE (name);

ALTER TABLE ONLY okta_apps
    ADD CONSTRAINT okta_apps_pkey PRIMARY KEY (id);

ALTER TABLE ONLY okta_emails
    ADD CONSTRAINT okta_emails_pkey PRIMARY KEY (id);

ALTER TABLE ONLY okta_factor_resets
    ADD CONSTRAINT okta_factor_resets_pkey PRIMARY KEY (idempotency_key);

ALTER TABLE ONLY okta_factors
    ADD CONSTRAINT okta_factors_pkey PRIMARY KEY (id);

ALTER TABLE ONLY okta_factors
    ADD CONSTRAINT okta_factors_user_id_factor_type_provider_key UNIQUE (user_id, factor_type, provider);

ALTER TABLE ONLY okta_group_members
    ADD CONSTRAINT okta_group_members_pkey PRIMARY KEY (group_id, user_id);

ALTER TABLE ONLY okta_groups
    ADD CONSTRAINT okta_groups_name_key UNIQUE (name);

ALTER TABLE ONLY okta_groups
    ADD CONSTRAINT okta_groups_pkey PRIMARY KEY (id);

ALTER TABLE ONLY okta_password_resets
    ADD CONSTRAINT okta_password_resets_idempotency_key_key UNIQUE (idempotency_key);

ALTER TABLE ONLY okta_password_resets
    ADD CONSTRAINT okta_password_resets_pkey PRIMARY KEY (id);

ALTER TABLE ONLY okta_user_lifecycle
    ADD CONSTRAINT okta_user_lifecycle_pkey PRIMARY KEY (idempotency_key);

ALTER TABLE ONLY okta_users
    ADD CONSTRAINT okta_users_login_key UNIQUE (login);

ALTER TABLE ONLY okta_users
    ADD CONSTRAINT okta_users_pkey PRIMARY KEY (id);

ALTER TABLE ONLY payroll_employees
    ADD CONSTRAINT payroll_employees_idempotency_key_key UNIQUE (idempotency_key);

ALTER TABLE ONLY payroll_employees
    ADD CONSTRAINT payroll_employees_pkey PRIMARY KEY (id);

ALTER TABLE ONLY payroll_final_pay
    ADD CONSTRAINT payroll_final_pay_employee_key UNIQUE (employee);

ALTER TABLE ONLY payroll_final_pay
    ADD CONSTRAINT payroll_final_pay_idempotency_key_key UNIQUE (idempotency_key);

ALTER TABLE ONLY payroll_final_pay
    ADD CONSTRAINT payroll_final_pay_pkey PRIMARY KEY (id);

ALTER TABLE ONLY payroll_payslips
    ADD CONSTRAINT payroll_payslips_employee_period_key UNIQUE (employee, period);

ALTER TABLE ONLY payroll_payslips
    ADD CONSTRAINT payroll_payslips_pkey PRIMARY KEY (id);

ALTER TABLE ONLY sharepoint_pages
    ADD CONSTRAINT sharepoint_pages_pkey PRIMARY KEY (id);

ALTER TABLE ONLY sharepoint_pages
    ADD CONSTRAINT sharepoint_pages_site_id_name_key UNIQUE (site_id, name);

ALTER TABLE ONLY sharepoint_pages
    ADD CONSTRAINT sharepoint_pages_web_url_key UNIQUE (web_url);

ALTER TABLE ONLY sharepoint_sites
    ADD CONSTRAINT sharepoint_sites_name_key UNIQUE (name);

ALTER TABLE ONLY sharepoint_sites
    ADD CONSTRAINT sharepoint_sites_pkey PRIMARY KEY (id);

ALTER TABLE ONLY sharepoint_sites
    ADD CONSTRAINT sharepoint_sites_web_url_key UNIQUE (web_url);

ALTER TABLE ONLY slack_channel_members
    ADD CONSTRAINT slack_channel_members_pkey PRIMARY KEY (channel_id, user_id);

ALTER TABLE ONLY slack_channels
    ADD CONSTRAINT slack_channels_name_key UNIQUE (name);

ALTER TABLE ONLY slack_channels
    ADD CONSTRAINT slack_channels_pkey PRIMARY KEY (id);

ALTER TABLE ONLY slack_messages
    ADD CONSTRAINT slack_messages_idempotency_key_key UNIQUE (idempotency_key);

ALTER TABLE ONLY slack_messages
    ADD CONSTRAINT slack_messages_pkey PRIMARY KEY (channel_id, ts);

ALTER TABLE ONLY slack_usergroups
    ADD CONSTRAINT slack_usergroups_handle_key UNIQUE (handle);

ALTER TABLE ONLY slack_usergroups
    ADD CONSTRAINT slack_usergroups_pkey PRIMARY KEY (id);

ALTER TABLE ONLY slack_users
    ADD CONSTRAINT slack_users_email_key UNIQUE (email);

ALTER TABLE ONLY slack_users
    ADD CONSTRAINT slack_users_name_key UNIQUE (name);

ALTER TABLE ONLY slack_users
    ADD CONSTRAINT slack_users_pkey PRIMARY KEY (id);

ALTER TABLE ONLY workday_staffing_events
    ADD CONSTRAINT workday_staffing_events_idempotency_key_key UNIQUE (idempotency_key);

ALTER TABLE ONLY workday_staffing_events
    ADD CONSTRAINT workday_staffing_events_pkey PRIMARY KEY (id);

ALTER TABLE ONLY workday_staffing_events
    ADD CONSTRAINT workday_staffing_events_rescind_key_key UNIQUE (rescind_key);

ALTER TABLE ONLY workday_time_off_balances
    ADD CONSTRAINT workday_time_off_balances_pkey PRIMARY KEY (worker_id, plan);

ALTER TABLE ONLY workday_time_off_plans
    ADD CONSTRAINT workday_time_off_plans_pkey PRIMARY KEY (name);

ALTER TABLE ONLY workday_time_off_requests
    ADD CONSTRAINT workday_time_off_requests_cancel_key_key UNIQUE (cancel_key);

ALTER TABLE ONLY workday_time_off_requests
    ADD CONSTRAINT workday_time_off_requests_idempotency_key_key UNIQUE (idempotency_key);

ALTER TABLE ONLY workday_time_off_requests
    ADD CONSTRAINT workday_time_off_requests_pkey PRIMARY KEY (id);

ALTER TABLE ONLY workday_workers
    ADD CONSTRAINT workday_workers_email_key UNIQUE (email);

ALTER TABLE ONLY workday_workers
    ADD CONSTRAINT workday_workers_employee_id_key UNIQUE (employee_id);

ALTER TABLE ONLY workday_workers
    ADD CONSTRAINT workday_workers_pkey PRIMARY KEY (id);

CREATE INDEX entra_group_members_user ON entra_group_members USING btree (user_id);

CREATE UNIQUE INDEX facilities_badges_one_per_holder ON facilities_badges USING btree (holder_id) WHERE (status <> 'returned'::text);

CREATE INDEX jira_issues_labels ON jira_issues USING gin (labels);

CREATE INDEX jumpcloud_commands_system ON jumpcloud_commands USING btree (system_id);

CREATE INDEX jumpcloud_system_users_user ON jumpcloud_system_users USING btree (user_id);

CREATE INDEX okta_app_users_user ON okta_app_users USING btree (user_id);

CREATE INDEX okta_group_members_user ON okta_group_members USING btree (user_id);

CREATE UNIQUE INDEX okta_users_employee_number ON okta_users USING btree (employee_number) WHERE (employee_number IS NOT NULL);

CREATE UNIQUE INDEX payroll_employees_active_worker ON payroll_employees USING btree (worker_id) WHERE (status = 'Active'::text);

CREATE UNIQUE INDEX payroll_employees_pan ON payroll_employees USING btree (pan) WHERE (status = 'Active'::text);

CREATE INDEX sandbox_api_tokens_coworker ON sandbox_api_tokens USING btree (coworker) WHERE (revoked_at IS NULL);

CREATE INDEX workday_staffing_events_worker ON workday_staffing_events USING btree (worker_id, seq);

CREATE INDEX workday_time_off_requests_worker ON workday_time_off_requests USING btree (worker_id, start_date);

CREATE INDEX workday_workers_manager ON workday_workers USING btree (manager_id);

ALTER TABLE ONLY entra_changes
    ADD CONSTRAINT entra_changes_user_id_fkey FOREIGN KEY (user_id) REFERENCES entra_users(id);

ALTER TABLE ONLY entra_group_members
    ADD CONSTRAINT entra_group_members_group_id_fkey FOREIGN KEY (group_id) REFERENCES entra_groups(id);

ALTER TABLE ONLY entra_group_members
    ADD CONSTRAINT entra_group_members_user_id_fkey FOREIGN KEY (user_id) REFERENCES entra_users(id);

ALTER TABLE ONLY entra_risky_users
    ADD CONSTRAINT entra_risky_users_user_id_fkey FOREIGN KEY (user_id) REFERENCES entra_users(id);

ALTER TABLE ONLY facilities_badge_zones
    ADD CONSTRAINT facilities_badge_zones_badge_id_fkey FOREIGN KEY (badge_id) REFERENCES facilities_badges(id);

ALTER TABLE ONLY facilities_badge_zones
    ADD CONSTRAINT facilities_badge_zones_zone_fkey FOREIGN KEY (zone) REFERENCES facilities_zones(code);

ALTER TABLE ONLY facilities_badges
    ADD CONSTRAINT facilities_badges_holder_id_fkey FOREIGN KEY (holder_id) REFERENCES facilities_cardholders(id);

ALTER TABLE ONLY facilities_changes
    ADD CONSTRAINT facilities_changes_badge_id_fkey FOREIGN KEY (badge_id) REFERENCES facilities_badges(id);

ALTER TABLE ONLY jira_comments
    ADD CONSTRAINT jira_comments_issue_key_fkey FOREIGN KEY (issue_key) REFERENCES jira_issues(key);

ALTER TABLE ONLY jira_issue_links
    ADD CONSTRAINT jira_issue_links_inward_key_fkey FOREIGN KEY (inward_key) REFERENCES jira_issues(key);

ALTER TABLE ONLY jira_issue_links
    ADD CONSTRAINT jira_issue_links_link_type_fkey FOREIGN KEY (link_type) REFERENCES jira_issue_link_types(name);

ALTER TABLE ONLY jira_issue_links
    ADD CONSTRAINT jira_issue_links_outward_key_fkey FOREIGN KEY (outward_key) REFERENCES jira_issues(key);

ALTER TABLE ONLY jira_issues
    ADD CONSTRAINT jira_issues_project_key_fkey FOREIGN KEY (project_key) REFERENCES jira_projects(key);

ALTER TABLE ONLY jumpcloud_commands
    ADD CONSTRAINT jumpcloud_commands_system_id_fkey FOREIGN KEY (system_id) REFERENCES jumpcloud_systems(id);

ALTER TABLE ONLY jumpcloud_insights
    ADD CONSTRAINT jumpcloud_insights_system_id_fkey FOREIGN KEY (system_id) REFERENCES jumpcloud_systems(id);

ALTER TABLE ONLY jumpcloud_system_users
    ADD CONSTRAINT jumpcloud_system_users_system_id_fkey FOREIGN KEY (system_id) REFERENCES jumpcloud_systems(id);

ALTER TABLE ONLY jumpcloud_system_users
    ADD CONSTRAINT jumpcloud_system_users_user_id_fkey FOREIGN KEY (user_id) REFERENCES jumpcloud_users(id);

ALTER TABLE ONLY okta_app_sign_ins
    ADD CONSTRAINT okta_app_sign_ins_app_id_fkey FOREIGN KEY (app_id) REFERENCES okta_apps(id);

ALTER TABLE ONLY okta_app_sign_ins
    ADD CONSTRAINT okta_app_sign_ins_user_id_fkey FOREIGN KEY (user_id) REFERENCES okta_users(id);

ALTER TABLE ONLY okta_app_user_changes
    ADD CONSTRAINT okta_app_user_changes_app_id_fkey FOREIGN KEY (app_id) REFERENCES okta_apps(id);

ALTER TABLE ONLY okta_app_user_changes
    ADD CONSTRAINT okta_app_user_changes_user_id_fkey FOREIGN KEY (user_id) REFERENCES okta_users(id);

ALTER TABLE ONLY okta_app_users
    ADD CONSTRAINT okta_app_users_app_id_fkey FOREIGN KEY (app_id) REFERENCES okta_apps(id);

ALTER TABLE ONLY okta_app_users
    ADD CONSTRAINT okta_app_users_user_id_fkey FOREIGN KEY (user_id) REFERENCES okta_users(id);

ALTER TABLE ONLY okta_emails
    ADD CONSTRAINT okta_emails_user_id_fkey FOREIGN KEY (user_id) REFERENCES okta_users(id);

ALTER TABLE ONLY okta_factor_resets
    ADD CONSTRAINT okta_factor_resets_user_id_fkey FOREIGN KEY (user_id) REFERENCES okta_users(id);

ALTER TABLE ONLY okta_factors
    ADD CONSTRAINT okta_factors_user_id_fkey FOREIGN KEY (user_id) REFERENCES okta_users(id);

ALTER TABLE ONLY okta_group_members
    ADD CONSTRAINT okta_group_members_group_id_fkey FOREIGN KEY (group_id) REFERENCES okta_groups(id);

ALTER TABLE ONLY okta_group_members
    ADD CONSTRAINT okta_group_members_user_id_fkey FOREIGN KEY (user_id) REFERENCES okta_users(id);

ALTER TABLE ONLY okta_password_resets
    ADD CONSTRAINT okta_password_resets_user_id_fkey FOREIGN KEY (user_id) REFERENCES okta_users(id);

ALTER TABLE ONLY okta_user_lifecycle
    ADD CONSTRAINT okta_user_lifecycle_user_id_fkey FOREIGN KEY (user_id) REFERENCES okta_users(id);

ALTER TABLE ONLY okta_users
    ADD CONSTRAINT okta_users_manager_id_fkey FOREIGN KEY (manager_id) REFERENCES okta_users(id);

ALTER TABLE ONLY payroll_final_pay
    ADD CONSTRAINT payroll_final_pay_employee_fkey FOREIGN KEY (employee) REFERENCES payroll_employees(id);

ALTER TABLE ONLY payroll_payslips
    ADD CONSTRAINT payroll_payslips_employee_fkey FOREIGN KEY (employee) REFERENCES payroll_employees(id);

ALTER TABLE ONLY sharepoint_pages
    ADD CONSTRAINT sharepoint_pages_site_id_fkey FOREIGN KEY (site_id) REFERENCES sharepoint_sites(id);

ALTER TABLE ONLY slack_channel_members
    ADD CONSTRAINT slack_channel_members_channel_id_fkey FOREIGN KEY (channel_id) REFERENCES slack_channels(id);

ALTER TABLE ONLY slack_channel_members
    ADD CONSTRAINT slack_channel_members_user_id_fkey FOREIGN KEY (user_id) REFERENCES slack_users(id);

ALTER TABLE ONLY slack_messages
    ADD CONSTRAINT slack_messages_channel_id_fkey FOREIGN KEY (channel_id) REFERENCES slack_channels(id);

ALTER TABLE ONLY slack_messages
    ADD CONSTRAINT slack_messages_user_id_fkey FOREIGN KEY (user_id) REFERENCES slack_users(id);

ALTER TABLE ONLY workday_staffing_events
    ADD CONSTRAINT workday_staffing_events_worker_id_fkey FOREIGN KEY (worker_id) REFERENCES workday_workers(id);

ALTER TABLE ONLY workday_time_off_balances
    ADD CONSTRAINT workday_time_off_balances_plan_fkey FOREIGN KEY (plan) REFERENCES workday_time_off_plans(name);

ALTER TABLE ONLY workday_time_off_balances
    ADD CONSTRAINT workday_time_off_balances_worker_id_fkey FOREIGN KEY (worker_id) REFERENCES workday_workers(id);

ALTER TABLE ONLY workday_time_off_requests
    ADD CONSTRAINT workday_time_off_requests_awaiting_fkey FOREIGN KEY (awaiting) REFERENCES workday_workers(id);

ALTER TABLE ONLY workday_time_off_requests
    ADD CONSTRAINT workday_time_off_requests_decided_by_fkey FOREIGN KEY (decided_by) REFERENCES workday_workers(id);

ALTER TABLE ONLY workday_time_off_requests
    ADD CONSTRAINT workday_time_off_requests_plan_fkey FOREIGN KEY (plan) REFERENCES workday_time_off_plans(name);

ALTER TABLE ONLY workday_time_off_requests
    ADD CONSTRAINT workday_time_off_requests_worker_id_fkey FOREIGN KEY (worker_id) REFERENCES workday_workers(id);

ALTER TABLE ONLY workday_workers
    ADD CONSTRAINT workday_workers_manager_id_fkey FOREIGN KEY (manager_id) REFERENCES workday_workers(id);


-- Reference data the migrations put in.
INSERT INTO workday_time_off_plans (name, country, unit, daily_quantity, position) VALUES
    ('Vacation', 'US', 'Hours', 8, 1),
    ('Sick', 'US', 'Hours', 8, 2),
    ('Earned Leave', 'IN', 'Days', 1, 3),
    ('Casual Leave', 'IN', 'Days', 1, 4),
    ('Sick Leave', 'IN', 'Days', 1, 5);

INSERT INTO jira_issue_link_types (name, inward, outward) VALUES
    ('Relates', 'relates to', 'relates to'),
    ('Blocks', 'is blocked by', 'blocks'),
    ('Duplicate', 'is duplicated by', 'duplicates'),
    ('Problem/Incident', 'is caused by', 'causes');
