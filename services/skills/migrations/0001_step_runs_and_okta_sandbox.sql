-- Step state: one row per (ticket, skill, step). The idempotency key makes a redelivered or
-- retried step a no-op: its recorded outcome is returned instead of acting twice.
CREATE TABLE step_runs (
    idempotency_key text PRIMARY KEY,
    ticket_id       text NOT NULL,
    skill           text NOT NULL,
    step            smallint NOT NULL CHECK (step BETWEEN 1 AND 5),
    coworker        text NOT NULL,
    status          text NOT NULL CHECK (status IN ('done', 'failed')),
    outputs         jsonb NOT NULL DEFAULT '{}',
    error           text,
    error_code      text,
    finished_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX step_runs_ticket ON step_runs (ticket_id);

-- The Okta-like sandbox directory: users with Okta's lifecycle statuses.
CREATE TABLE okta_users (
    id          text PRIMARY KEY,              -- Okta-style id, e.g. 00u1a2b3c4d5e6f7g8h9
    login       text NOT NULL UNIQUE,          -- the user's login (their email)
    email       text NOT NULL,
    first_name  text NOT NULL,
    last_name   text NOT NULL,
    country     char(2) NOT NULL,
    department  text NOT NULL,
    status      text NOT NULL CHECK (status IN ('STAGED', 'PROVISIONED', 'ACTIVE', 'RECOVERY',
                    'LOCKED_OUT', 'PASSWORD_EXPIRED', 'SUSPENDED', 'DEPROVISIONED')),
    created     timestamptz NOT NULL DEFAULT now(),
    status_changed timestamptz NOT NULL DEFAULT now()
);

-- Every password reset the sandbox performed. Only a hash of the one-time token is kept.
CREATE TABLE okta_password_resets (
    id              bigserial PRIMARY KEY,
    user_id         text NOT NULL REFERENCES okta_users (id),
    idempotency_key text NOT NULL UNIQUE,
    token_sha256    text NOT NULL,
    send_email      boolean NOT NULL,
    requested_by    text NOT NULL,            -- the coworker whose credentials made the call
    ticket_id       text NOT NULL,
    reset_at        timestamptz NOT NULL DEFAULT now()
);
