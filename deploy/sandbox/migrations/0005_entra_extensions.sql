-- Microsoft Graph open extensions on Entra users (POST/GET/PATCH /users/{id}/extensions): where a
-- client keeps its own data on a user, as a real tenant lets it. The skills' Entra client keeps the
-- idempotency keys of the session revocations it made there, to reconcile after a crash.

CREATE TABLE entra_user_extensions (
    user_id text NOT NULL REFERENCES entra_users(id),
    extension_name text NOT NULL,
    properties jsonb NOT NULL DEFAULT '{}'::jsonb,
    PRIMARY KEY (user_id, extension_name)
);
