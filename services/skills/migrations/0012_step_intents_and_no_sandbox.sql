-- A step's intent, recorded before it calls a system and cleared with its outcome (ADR 0022): a row
-- left behind is a call that may have acted, and whoever claims the step next reconciles with the
-- system before acting. A claim keeps others off until claimed_until (its lease).
CREATE TABLE step_intents (
    idempotency_key text PRIMARY KEY,
    request_id      text NOT NULL,
    ticket_id       text NOT NULL,
    system          text NOT NULL,
    claimed_by      text NOT NULL,
    claimed_until   timestamptz NOT NULL,
    claims          integer NOT NULL DEFAULT 1,
    started_at      timestamptz NOT NULL DEFAULT now()
);

-- The simulated systems now live in their own server and schema (deploy/sandbox); their tables
-- leave the skills schema. Nothing of the skills service refers to them.
DROP TABLE IF EXISTS
    okta_app_sign_ins, okta_app_user_changes, okta_app_users, okta_apps, okta_emails, okta_factor_resets, okta_factors,
    okta_group_members, okta_groups, okta_password_resets, okta_user_lifecycle, okta_users,
    entra_changes, entra_group_members, entra_groups, entra_risky_users, entra_users,
    facilities_badge_zones, facilities_changes, facilities_badges, facilities_cardholders, facilities_zones,
    jira_comments, jira_issue_links, jira_issue_link_types, jira_issues, jira_projects,
    jumpcloud_commands, jumpcloud_insights, jumpcloud_system_users, jumpcloud_systems, jumpcloud_users,
    payroll_final_pay, payroll_payslips, payroll_employees,
    sharepoint_pages, sharepoint_sites,
    slack_channel_members, slack_messages, slack_usergroups, slack_channels, slack_users,
    workday_staffing_events, workday_time_off_balances, workday_time_off_requests, workday_time_off_plans, workday_workers,
    sandbox_api_tokens
    CASCADE;
DROP SEQUENCE IF EXISTS workday_employee_ids, jira_ids;
