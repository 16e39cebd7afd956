-- Billing prices every call itself: what the caller said it cost, what litellm says, which price
-- version was used, and why a call was flagged are kept beside the cost that was booked.
ALTER TABLE usage_events
    ADD COLUMN cached_tokens     bigint NOT NULL DEFAULT 0,
    ADD COLUMN latency_ms        double precision NOT NULL DEFAULT 0,
    ADD COLUMN reported_cost_usd numeric(20, 10),
    ADD COLUMN litellm_cost_usd  numeric(20, 10),
    ADD COLUMN price_version     text NOT NULL DEFAULT 'caller-reported',
    ADD COLUMN flags             text[] NOT NULL DEFAULT '{}',
    ADD COLUMN leases            text[] NOT NULL DEFAULT '{}';   -- the budget leases the call was reserved against
UPDATE usage_events SET reported_cost_usd = cost_usd;
CREATE INDEX usage_events_ticket ON usage_events (team, ticket_id);

-- Spend per team, coworker, skill and model per UTC hour: days, weeks and months (and budget periods
-- that reset at any whole UTC hour) are sums of these rows.
CREATE TABLE spend_hourly (
    team              text NOT NULL,
    coworker          text NOT NULL,
    skill             text NOT NULL,              -- '' when the call was for no skill
    model             text NOT NULL,
    hour              timestamptz NOT NULL,
    calls             bigint NOT NULL,
    prompt_tokens     bigint NOT NULL,
    completion_tokens bigint NOT NULL,
    cached_tokens     bigint NOT NULL,
    cost_usd          numeric(20, 10) NOT NULL,
    PRIMARY KEY (team, coworker, skill, model, hour)
);
CREATE INDEX spend_hourly_team_hour ON spend_hourly (team, hour);
CREATE INDEX spend_hourly_coworker_hour ON spend_hourly (coworker, hour);
INSERT INTO spend_hourly
SELECT team, coworker, coalesce(skill, ''), model, date_trunc('hour', occurred_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC',
       count(*), sum(prompt_tokens), sum(completion_tokens), 0, sum(cost_usd)
FROM usage_events GROUP BY 1, 2, 3, 4, 5;

-- Spend per ticket (the per-ticket cap, cost per ticket and per resolved ticket).
CREATE TABLE spend_tickets (
    team     text NOT NULL,
    ticket_id text NOT NULL,
    calls    bigint NOT NULL,
    cost_usd numeric(20, 10) NOT NULL,
    first_at timestamptz NOT NULL,
    last_at  timestamptz NOT NULL,
    PRIMARY KEY (team, ticket_id)
);
INSERT INTO spend_tickets
SELECT team, ticket_id, count(*), sum(cost_usd), min(occurred_at), max(occurred_at)
FROM usage_events WHERE ticket_id IS NOT NULL GROUP BY 1, 2;

-- Tickets a coworker resolved (from ticket.resolved), for the cost per resolved ticket.
CREATE TABLE resolved_tickets (
    ticket_id   text PRIMARY KEY,
    team        text NOT NULL,
    coworker    text NOT NULL DEFAULT '',
    resolved_at timestamptz NOT NULL
);
CREATE INDEX resolved_tickets_team_time ON resolved_tickets (team, resolved_at);

-- Slices of budgets granted to callers. A lease counts against every budget in ``budgets`` until it
-- is spent (booked), returned, or expired for longer than the grace period.
CREATE TABLE leases (
    lease_id      text PRIMARY KEY,
    holder        text NOT NULL,
    team          text NOT NULL,
    kind          text NOT NULL,
    budgets       text[] NOT NULL,
    amount_usd    numeric(20, 10),               -- NULL: no budget applies
    granted_at    timestamptz NOT NULL,
    expires_at    timestamptz NOT NULL,
    booked_usd    numeric(20, 10) NOT NULL DEFAULT 0,
    booked_calls  bigint NOT NULL DEFAULT 0,
    returned_at   timestamptz,
    used_usd      numeric(20, 10),              -- what the holder says it spent, on return
    used_calls    bigint,
    grant_event   jsonb NOT NULL                -- the answer, replayed as is when the request is redelivered
);
CREATE INDEX leases_open ON leases USING gin (budgets) WHERE returned_at IS NULL OR used_usd IS NOT NULL;
CREATE INDEX leases_team ON leases (team, expires_at);

-- Budget alerts sent: each threshold once per budget and period.
CREATE TABLE alerts_sent (
    budget  text NOT NULL,
    period  text NOT NULL,
    pct     int NOT NULL,
    sent_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (budget, period, pct)
);

-- spend.report published: per team and period, the last time, so instances share the schedule.
CREATE TABLE reports_sent (
    team    text NOT NULL,
    period  text NOT NULL,
    sent_at timestamptz NOT NULL,
    PRIMARY KEY (team, period)
);
