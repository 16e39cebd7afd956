-- A parked request is marked finished, not deleted: a redelivered approval then replays the
-- request's recorded outcome (same events, same ids) instead of finding nothing and emitting nothing.
ALTER TABLE pending_requests ADD COLUMN finished_at timestamptz;
