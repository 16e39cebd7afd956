-- Tickets whose right route is known: corrected by a person (ticket.rerouted) or confirmed by
-- their resolution (ticket.resolved). The latest label for a text wins.
CREATE TABLE learned_examples (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id    text NOT NULL UNIQUE,
    ticket_id   text NOT NULL,
    text        text NOT NULL,           -- normalised, as the classifier reads it
    category    text NOT NULL,
    skill       text,
    source      text NOT NULL CHECK (source IN ('rerouted', 'resolved')),
    learned_at  timestamptz NOT NULL DEFAULT now()
);

-- Tickets waiting for the requester's answer to a question.
CREATE TABLE pending_questions (
    ticket_id    text PRIMARY KEY,
    ticket       jsonb NOT NULL,          -- the ticket.created event, to triage again with the answer
    skill        text NOT NULL,
    field        text NOT NULL,
    asked_at     timestamptz NOT NULL DEFAULT now(),
    answered_at  timestamptz,
    answer_id    text                     -- the answer that resumed it (a redelivery resumes it the same way)
);
