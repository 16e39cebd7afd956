-- Every sandboxed system checks its caller's token, not only Okta.
ALTER TABLE okta_api_tokens RENAME TO sandbox_api_tokens;
ALTER TABLE sandbox_api_tokens ADD COLUMN system text NOT NULL DEFAULT 'okta';
ALTER TABLE sandbox_api_tokens ALTER COLUMN system DROP DEFAULT;
ALTER INDEX okta_api_tokens_coworker RENAME TO sandbox_api_tokens_coworker;

-- A step's record says whether it was the action or its compensation (undo), and how many attempts it took.
ALTER TABLE step_runs ADD COLUMN kind text NOT NULL DEFAULT 'action' CHECK (kind IN ('action', 'compensation'));
ALTER TABLE step_runs ADD COLUMN attempts smallint NOT NULL DEFAULT 1;

-- A request waits for a manager's approval or for the requester's answer to a question.
ALTER TABLE pending_requests ADD COLUMN waiting_for text NOT NULL DEFAULT 'approval' CHECK (waiting_for IN ('approval', 'answer'));
ALTER TABLE pending_requests ADD COLUMN ticket_id text;
ALTER TABLE pending_requests ADD COLUMN field text;
CREATE INDEX pending_requests_answer ON pending_requests (ticket_id) WHERE waiting_for = 'answer' AND finished_at IS NULL;

-- What requesters answered, by ticket and field: a resumed request reads them as inputs.
CREATE TABLE answers (
    ticket_id   text NOT NULL,
    field       text NOT NULL,
    value       text NOT NULL,
    answer_id   text NOT NULL,
    answered_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (ticket_id, field)
);
