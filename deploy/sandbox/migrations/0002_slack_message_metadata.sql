-- Slack message metadata (chat.postMessage's ``metadata``: ``event_type`` and ``event_payload``),
-- kept with the message and returned by conversations.history with include_all_metadata=true: where
-- an app marks what it posted, as a real workspace lets it. The skills' Slack client marks each post
-- with its idempotency key there, to find an earlier post after a crash instead of posting again.
ALTER TABLE slack_messages ADD COLUMN metadata jsonb;
CREATE INDEX slack_messages_channel_ts ON slack_messages (channel_id, ts DESC);
