-- Tamper evidence: the records of each team form a hash chain.
--
--   hash(n) = sha256(hash(n-1) || utf8(content(n)))        hash(0) = 32 zero bytes (the genesis)
--
-- content(n) is the record's columns as one canonical text: PostgreSQL's own jsonb output of
-- jsonb_build_array(team, team_seq, event_id, type, source, subject, actor, correlation_id,
-- causation_id, schema_version, event_time in epoch microseconds, recorded_at in epoch microseconds)
-- followed by that of the event (a JSON array is self-delimiting, so the two cannot be confused).
-- jsonb output is deterministic (keys sorted, fixed spacing), so the same row always gives
-- the same bytes, whatever the session's settings. `workforce audit verify` recomputes it from the
-- columns with the built-in functions, in Python; services/governance/chain.py is the reference.

ALTER TABLE audit_events
    ADD COLUMN team_seq  bigint,   -- position in the team's chain: 1, 2, 3, ... with no gaps
    ADD COLUMN prev_hash bytea,    -- the hash of the team's previous record (genesis for the first)
    ADD COLUMN hash      bytea;    -- sha256(prev_hash || content)

CREATE FUNCTION audit_content(team text, team_seq bigint, event_id text, type text, source text, subject text, actor text,
                              correlation_id text, causation_id text, schema_version int, event_time timestamptz,
                              recorded_at timestamptz, event jsonb) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT jsonb_build_array(team, team_seq, event_id, type, source, subject, actor, correlation_id, causation_id, schema_version,
                             (extract(epoch FROM event_time) * 1000000)::bigint, (extract(epoch FROM recorded_at) * 1000000)::bigint)::text
           || event::text
$$;

-- The chain as a running aggregate: audit_chain(head, content) OVER (PARTITION BY team ORDER BY ...)
-- gives each row its hash, starting from the team's current head; one statement chains a batch.
CREATE FUNCTION audit_chain_step(state bytea, head bytea, content text) RETURNS bytea
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT sha256(coalesce(state, head) || convert_to(content, 'UTF8'))
$$;
CREATE AGGREGATE audit_chain(bytea, text) (SFUNC = audit_chain_step, STYPE = bytea);

-- Chain the records already there, per team in the order they were recorded. The append-only
-- trigger is set aside for this one statement of this migration, and nothing else.
ALTER TABLE audit_events DISABLE TRIGGER audit_events_no_update_delete;
WITH numbered AS (
    SELECT seq, row_number() OVER (PARTITION BY team ORDER BY seq) AS n FROM audit_events
), chained AS (
    SELECT a.seq, a.team, n.n,
           audit_chain('\x0000000000000000000000000000000000000000000000000000000000000000'::bytea,
                       audit_content(a.team, n.n, a.event_id, a.type, a.source, a.subject, a.actor, a.correlation_id, a.causation_id,
                                     a.schema_version, a.event_time, a.recorded_at, a.event))
               OVER (PARTITION BY a.team ORDER BY n.n) AS hash
    FROM audit_events a JOIN numbered n USING (seq)
), linked AS (
    SELECT seq, n, hash,
           coalesce(lag(hash) OVER (PARTITION BY team ORDER BY n), '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea) AS prev
    FROM chained
)
UPDATE audit_events a SET team_seq = l.n, hash = l.hash, prev_hash = l.prev
FROM linked l
WHERE a.seq = l.seq;
ALTER TABLE audit_events ENABLE TRIGGER audit_events_no_update_delete;

ALTER TABLE audit_events
    ALTER COLUMN team_seq SET NOT NULL,
    ALTER COLUMN prev_hash SET NOT NULL,
    ALTER COLUMN hash SET NOT NULL;
-- One record per position: two writers that raced past the per-team lock could not both commit.
CREATE UNIQUE INDEX audit_events_chain ON audit_events (team, team_seq);
