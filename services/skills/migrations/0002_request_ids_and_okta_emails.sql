-- Which request a step outcome belongs to: a refused step may be tried again by a new request
-- (say, after a person reactivated the user); a done step is never done twice for its ticket.
ALTER TABLE step_runs ADD COLUMN request_id text;

-- The emails the Okta sandbox sent, as Okta does with sendEmail=true. The one-time link is kept
-- only as a hash: it was for the user's inbox, not for us.
CREATE TABLE okta_emails (
    id            bigserial PRIMARY KEY,
    user_id       text NOT NULL REFERENCES okta_users (id),
    to_address    text NOT NULL,
    template      text NOT NULL,
    token_sha256  text NOT NULL,
    sent_at       timestamptz NOT NULL DEFAULT now()
);
