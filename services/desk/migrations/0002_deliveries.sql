-- Webhook deliveries the desk took in: a sender's retry of a delivery already published is
-- answered "duplicate" without publishing again (event ids are derived too, so even a second
-- publish would be harmless). Only what was done is recorded: a delivery refused or not yet
-- acknowledged by the broker leaves no row, so the sender's retry is processed afresh.
CREATE TABLE IF NOT EXISTS deliveries (
    system       text        NOT NULL,
    delivery_id  text        NOT NULL,
    event_id     text,                   -- the event published; NULL for a delivery skipped
    ticket_id    text,
    outcome      text        NOT NULL CHECK (outcome IN ('published', 'skipped')),
    received_at  timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    deliveries   integer     NOT NULL DEFAULT 1,
    PRIMARY KEY (system, delivery_id)
);

CREATE INDEX IF NOT EXISTS deliveries_event ON deliveries (event_id);
