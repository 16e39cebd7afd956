-- Who asked, as the directory knows them: checked once per request before any of its steps runs
-- (the ticket's requester id and email must name the same one person), and kept, so a redelivered
-- or resumed request goes on with the same person (or stops for the same reason) without asking again.
CREATE TABLE requester_identities (
    request_id  text PRIMARY KEY,
    ticket_id   text NOT NULL,
    outcome     text NOT NULL CHECK (outcome IN ('bound', 'identity_mismatch', 'identity_unverifiable')),
    user_id     text,           -- the directory's id of the person (bound only)
    login       text,
    email       text,
    reason      text NOT NULL DEFAULT '',
    checked_at  timestamptz NOT NULL DEFAULT now(),
    CHECK ((outcome = 'bound') = (user_id IS NOT NULL))
);
