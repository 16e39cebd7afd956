-- Each record kept as received (issue 17; ADR 0013, "Hash the bytes as received"): from here on,
-- governance stores a record's value byte for byte in `received`, and the chain hashes those bytes
-- in place of `event::text`, so no canonical form is computed per event. `event` (jsonb, parsed by
-- PostgreSQL from the same text) stays what the readers query; verification checks that it still
-- holds the JSON received. Records stored before this have no `received`: their content is
-- `event::text` as before, so old and new verify with one expression (chain.CONTENT_SQL).
ALTER TABLE audit_events ADD COLUMN received text;

-- The reference content for record_in_sql (the fallback), with the record as received.
CREATE FUNCTION audit_content(team text, team_seq bigint, event_id text, type text, source text, subject text, actor text,
                              correlation_id text, causation_id text, schema_version int, event_time timestamptz,
                              recorded_at timestamptz, event jsonb, received text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT jsonb_build_array(team, team_seq, event_id, type, source, subject, actor, correlation_id, causation_id, schema_version,
                             (extract(epoch FROM event_time) * 1000000)::bigint, (extract(epoch FROM recorded_at) * 1000000)::bigint)::text
           || coalesce(received, event::text)
$$;
