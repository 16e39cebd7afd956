-- Coworker manifests by version, as governance announced them: work finishes on the version it
-- started on, so every version seen is kept.
CREATE TABLE coworker_versions (
    name      text NOT NULL,
    version   int NOT NULL,
    manifest  jsonb NOT NULL,
    seen_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (name, version)
);

-- Each coworker's own credential per connected system and manifest version, never shared,
-- encrypted at rest (Fernet, key from WORKFORCE_SECRETS_KEY). Work finishes on the version it
-- started on, with that version's credential. Revoking deletes the secret and keeps the record.
CREATE TABLE credentials (
    coworker    text NOT NULL,
    system      text NOT NULL,
    version     int NOT NULL,
    ciphertext  bytea,
    issued_at   timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz,
    PRIMARY KEY (coworker, system, version)
);

-- The Okta sandbox's API tokens: a hash, whose it is, what it may do.
CREATE TABLE okta_api_tokens (
    token_sha256  text PRIMARY KEY,
    coworker      text NOT NULL,
    version       int NOT NULL,
    scopes        text[] NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    revoked_at    timestamptz
);
CREATE INDEX okta_api_tokens_coworker ON okta_api_tokens (coworker) WHERE revoked_at IS NULL;

-- Managers' decisions on supervised actions.
CREATE TABLE approvals (
    approval_id  text PRIMARY KEY,
    request_id   text NOT NULL,
    step         smallint NOT NULL,
    granted      boolean NOT NULL,
    decided_by   text NOT NULL,
    comment      text NOT NULL DEFAULT '',
    decided_at   timestamptz NOT NULL DEFAULT now()
);

-- Requests waiting for an approval, resumed when it comes.
CREATE TABLE pending_requests (
    request_id     text PRIMARY KEY,
    approval_id    text NOT NULL UNIQUE,
    event          jsonb NOT NULL,
    waiting_since  timestamptz NOT NULL DEFAULT now()
);

-- The authorisation decision each step ran under, replayed with the step.
ALTER TABLE step_runs ADD COLUMN decision jsonb;
