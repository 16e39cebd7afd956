"""How the audit trail's readers (search.py, explain.py, reports.py, retention) plan and time their
queries on a million records over a year, with the indexes of the migrations up to a given one:
the evidence for which indexes the append path keeps (migration 0005, ADR 0013).

    python bench/audit_queries.py RECORDS UPTO      # e.g. 1000000 0004 (before) / 0005 (after)

PostgreSQL: TEST_DATABASE_URL (a server the run may create a database on).
"""
import asyncio, os, sys, time, uuid
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import asyncpg
from runtime.db import migrate
from deploy.stack import ROOT
from services.governance import search, explain, reports
from datetime import UTC, datetime, timedelta
import shutil, tempfile, pathlib
N = int(sys.argv[1]); UPTO = sys.argv[2]   # '0004' or '0005'
FILL = f"""
INSERT INTO audit_events (event_id, type, source, subject, team, actor, correlation_id, causation_id, schema_version, event_time, event, team_seq, prev_hash, hash)
SELECT 'e' || g, t.type, '/services/skills', 'T-' || (g / 6), 'team-' || (g % 8), 'coworker:' || c.cw, 'T-' || (g / 6), NULL, 1,
       now() - interval '365 days' + (g * interval '365 days' / {N}),
       jsonb_build_object('id', 'e' || g, 'type', t.type, 'data', jsonb_build_object('coworker', c.cw, 'system', 'okta', 'status', CASE WHEN g % 10 = 0 THEN 'failed' ELSE 'done' END,
                          'operation', 'users.read', 'skill', 'password-reset', 'step', 1, 'ticket_id', 'T-' || (g / 6), 'title', repeat('x', 300))),
       g / 8 + 1, '\\x00', '\\x00'
FROM generate_series(0, {N} - 1) g
CROSS JOIN LATERAL (SELECT (ARRAY['ticket.created','ticket.triaged','skill.requested','policy.allowed','skill.step','skill.step','skill.completed','llm.usage','policy.denied','ticket.escalated'])[1 + g % 10] AS type) t
CROSS JOIN LATERAL (SELECT (ARRAY['jordan','bob','atom','ava','max','kim','lee','sam','pat','joe','ana','eve'])[1 + (g / 7) % 12] AS cw) c
"""
async def main():
    server=os.environ['TEST_DATABASE_URL']
    name=f"wf_bench_queries_{uuid.uuid4().hex[:6]}"
    admin=await asyncpg.connect(server); await admin.execute(f'CREATE DATABASE "{name}"')
    url=server.rsplit('/', 1)[0] + f'/{name}'
    tmp = pathlib.Path(tempfile.mkdtemp())
    for p in (ROOT/"services/governance/migrations").glob("*.sql"):
        if p.name[:4] <= UPTO: shutil.copy(p, tmp/p.name)
    try:
        pool=await asyncpg.create_pool(url,min_size=1,max_size=2, server_settings={"search_path": "governance"})
        await migrate(pool,"governance",tmp)
        t=time.perf_counter(); await pool.execute("ALTER TABLE audit_events DISABLE TRIGGER USER"); await pool.execute(FILL); await pool.execute("VACUUM ANALYZE audit_events")
        print(f"filled {N} in {time.perf_counter()-t:.0f}s; indexes:", [r[0] for r in await pool.fetch("SELECT indexname FROM pg_indexes WHERE tablename='audit_events'")])
        now = datetime.now(UTC)
        qs = {
          "search coworker 7d": search.Query(coworker="jordan", since=now-timedelta(days=7)).sql(),
          "search team 7d": search.Query(team="team-3", since=now-timedelta(days=7)).sql(),
          "search type 7d limit 100": search.Query(type="skill.step", since=now-timedelta(days=7), limit=100).sql(),
          "search team+system+outcome 30d": search.Query(team="team-3", system="okta", outcome="failed", since=now-timedelta(days=30)).sql(),
          "search ticket": search.Query(ticket="T-5000").sql(),
          "search coworker all time limit 50": search.Query(coworker="jordan", limit=50).sql(),
          "report used 30d": (reports.USED_SQL, [30, ['jordan','bob']]),
          "explain action by id": (explain.ACTIONS_SQL, ['e4004', None, datetime(1970,1,1,tzinfo=UTC)]),
          "explain pass rate 7d": (explain.ACTIONS_SQL, [None, None, now-timedelta(days=7)]),
          "retention young": ("SELECT min(team_seq) FROM audit_events WHERE team = $1 AND event_time >= $2", ['team-3', now-timedelta(days=30)]),
        }
        for label, (sql, args) in qs.items():
            async with pool.acquire() as c:
                await c.fetch(sql, *args)
                ts=[]
                for _ in range(3):
                    t=time.perf_counter(); rows = await c.fetch(sql, *args); ts.append(time.perf_counter()-t)
                plan = await c.fetch("EXPLAIN " + sql, *args)
                top = [r[0].strip() for r in plan if 'Scan' in r[0]][:3]
            print(f"{label:34s} {1000*min(ts):8.1f} ms  rows={len(rows):6d}  {top}")
        await pool.close()
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'); await admin.close()
asyncio.run(main())
