-- Every usage event once (the event id is the key), so a redelivered event is never billed twice
-- and the aggregates can be rebuilt from this table or from a replay of the topic.
CREATE TABLE usage_events (
    event_id          text PRIMARY KEY,
    team              text NOT NULL,
    coworker          text NOT NULL DEFAULT '',   -- '' when no coworker made the call (a service did)
    skill             text,
    ticket_id         text,
    purpose           text NOT NULL,
    model             text NOT NULL,
    provider          text NOT NULL,
    prompt_tokens     bigint NOT NULL,
    completion_tokens bigint NOT NULL,
    cost_usd          numeric(20, 10) NOT NULL,
    occurred_at       timestamptz NOT NULL,
    recorded_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX usage_events_team_time ON usage_events (team, occurred_at);

-- Spend per team and coworker per UTC day.
CREATE TABLE spend_daily (
    team              text NOT NULL,
    coworker          text NOT NULL,
    day               date NOT NULL,
    calls             bigint NOT NULL,
    prompt_tokens     bigint NOT NULL,
    completion_tokens bigint NOT NULL,
    cost_usd          numeric(20, 10) NOT NULL,
    PRIMARY KEY (team, coworker, day)
);
