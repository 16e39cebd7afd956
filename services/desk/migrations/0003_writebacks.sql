-- The write-back's exactly-once record: each step of writing one of our events on its upstream
-- ticket, keyed by (event, step). 'intent' is written before the vendor is called, 'done' with the
-- vendor's ids after; a step found at 'intent' is one whose outcome a crash lost: it is looked for
-- upstream (by its marker) before it is made again.
CREATE TABLE writeback_ops (
    event_id text NOT NULL,
    op_index int NOT NULL,
    upstream text NOT NULL,
    kind text NOT NULL,
    state text NOT NULL CHECK (state IN ('intent', 'done')),
    ref text,
    action text,
    tries int NOT NULL DEFAULT 0,
    intended_at timestamptz NOT NULL DEFAULT now(),
    done_at timestamptz,
    PRIMARY KEY (event_id, op_index)
);

-- What writing an event back ended in (the event the desk published about it), so that a
-- redelivered event answers the same event again without touching the ticket.
CREATE TABLE writeback_results (
    event_id text PRIMARY KEY,
    upstream text NOT NULL,
    outcome text NOT NULL CHECK (outcome IN ('written', 'failed')),
    envelope jsonb NOT NULL,
    finished_at timestamptz NOT NULL DEFAULT now()
);
