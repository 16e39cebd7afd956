-- The tickets the desk took in (or created, for a split's parts): where each lives upstream, and
-- whether one of our questions waits on it (a requester's comment then is an answer).
CREATE TABLE tickets (
    ticket_id text PRIMARY KEY,
    upstream text NOT NULL,
    system text NOT NULL,
    native_id text NOT NULL,
    key text NOT NULL,
    team text NOT NULL,
    parent_id text,
    details jsonb NOT NULL DEFAULT '{}',
    asked_at timestamptz,
    question_id text,
    taken_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (system, native_id)
);
