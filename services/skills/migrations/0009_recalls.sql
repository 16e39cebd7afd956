-- A skill that asks memory first waits for memory's answer; the answer is kept per request, so a
-- redelivered request runs on the same recall.
ALTER TABLE pending_requests DROP CONSTRAINT pending_requests_waiting_for_check;
ALTER TABLE pending_requests ADD CONSTRAINT pending_requests_waiting_for_check CHECK (waiting_for IN ('approval', 'answer', 'recall'));
CREATE INDEX pending_requests_recall ON pending_requests (waiting_since) WHERE waiting_for = 'recall' AND finished_at IS NULL;

CREATE TABLE recalls (
    request_id  text PRIMARY KEY,
    items       jsonb NOT NULL,
    note        text NOT NULL DEFAULT '',
    recalled_at timestamptz NOT NULL DEFAULT now()
);
