-- Every index is written by every append; keep only those the readers use (ADR 0013, "Writing").
--
-- Kept: the primary key (seq); event_id (unique: the duplicate check, `audit explain ID`);
-- (team, team_seq) (unique: the chain, its heads, retention); correlation_id (a ticket's records:
-- `audit ticket`, the joins of `audit explain`); event_time (every time range: search --days,
-- reports, the audit pass rate; and `audit search` without one, whose ORDER BY event_time ... LIMIT
-- walks it).
-- Dropped: type, (team, event_time) and (coworker, event_time). On a million records over a year,
-- the planner took none of them for any query of search.py, explain.py or reports.py (it prefers
-- event_time: a range of days is selective, a type or a team is not); the coworker index cannot
-- serve search at all, which matches the coworker in the event OR the actor.
DROP INDEX audit_events_type;
DROP INDEX audit_events_team_time;
DROP INDEX audit_events_coworker;
