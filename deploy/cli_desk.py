"""``workforce desk``: what the service desk sent in and what was written back, read from the desk's
own store (schema ``desk``): per system, the tickets taken in, the webhook deliveries taken and
redelivered, the write-backs done and failed, and the latest failures with their reasons."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import Annotated, Any

import asyncpg
import typer

from deploy.endpoints import NoStack, endpoints
from deploy.stack import ROOT

app = typer.Typer(help="The service desk's connector (services/desk): webhooks in, write-backs out.", no_args_is_help=True)

VarOption = Annotated[Path, typer.Option("--var", envvar="WORKFORCE_VAR", help="The var folder of the `workforce up` to talk to (its stack.json); DATABASE_URL overrides it.")]

_COUNTS = """
SELECT s.system,
       (SELECT count(*) FROM desk.tickets t WHERE t.system = s.system AND t.parent_id IS NULL) AS taken,
       (SELECT count(*) FROM desk.tickets t WHERE t.system = s.system AND t.parent_id IS NOT NULL) AS parts,
       (SELECT count(*) FROM desk.tickets t WHERE t.system = s.system AND t.asked_at IS NOT NULL) AS waiting,
       (SELECT count(*) FROM desk.deliveries d WHERE d.system = s.system AND d.outcome = 'published') AS published,
       (SELECT count(*) FROM desk.deliveries d WHERE d.system = s.system AND d.outcome = 'skipped') AS skipped,
       (SELECT coalesce(sum(d.deliveries - 1), 0) FROM desk.deliveries d WHERE d.system = s.system) AS redelivered,
       (SELECT count(*) FROM desk.writeback_results w WHERE split_part(w.upstream, ':', 1) = s.system AND w.outcome = 'written') AS written,
       (SELECT count(*) FROM desk.writeback_results w WHERE split_part(w.upstream, ':', 1) = s.system AND w.outcome = 'failed') AS failed
FROM unnest($1::text[]) AS s(system)
"""
_FAILURES = """
SELECT finished_at, envelope FROM desk.writeback_results WHERE outcome = 'failed' ORDER BY finished_at DESC LIMIT $1
"""


def _database(var: Path) -> str:
    if url := os.environ.get("DATABASE_URL"):
        return url
    try:
        _, database = endpoints(var)
    except NoStack as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from None
    if database is None:
        typer.echo("no database: set DATABASE_URL, or run beside `workforce up`", err=True)
        raise typer.Exit(1)
    return database


async def _status(database: str, failures: int) -> tuple[list[asyncpg.Record], list[dict[str, Any]]]:
    from services.desk.config import SYSTEMS

    conn = await asyncpg.connect(database)
    try:
        if not await conn.fetchval("SELECT to_regclass('desk.writeback_results') IS NOT NULL"):
            return [], []
        counts = await conn.fetch(_COUNTS, list(SYSTEMS))
        failed = []
        for row in await conn.fetch(_FAILURES, failures):
            try:  # a row is the desk's own record, but one unreadable row must not hide the rest
                data = json.loads(row["envelope"])["data"]
                failed.append({"at": row["finished_at"], **data})
            except (ValueError, KeyError, TypeError):
                failed.append({"at": row["finished_at"], "ticket_id": "?", "upstream": "?", "cause_type": "?", "reason_code": "?", "reason": "(unreadable record)"})
        return counts, failed
    finally:
        await conn.close()


@app.command()
def status(
    failures: Annotated[int, typer.Option(min=0, max=100, help="How many of the latest write-back failures to show.")] = 5,
    var: VarOption = ROOT / ".var",
) -> None:
    """Per system: tickets taken in (and split parts made there), questions waiting, webhook
    deliveries published / skipped / redelivered, write-backs done and failed; then the latest failures."""
    counts, failed = asyncio.run(_status(_database(var), failures))
    if not counts:
        typer.echo("the desk has not started on this database yet (no desk schema)")
        return
    try:
        desk = json.loads((var / "stack.json").read_text()).get("desk")
    except (OSError, ValueError, AttributeError):
        desk = None
    if desk:
        typer.echo(f"webhooks at {desk}/webhooks/<system> (refusals are counted on {desk}/metrics, workforce_webhooks_total)")
    typer.echo(f"{'system':<12}{'tickets':>9}{'parts':>7}{'waiting':>9}{'published':>11}{'skipped':>9}{'redelivered':>13}{'written':>9}{'failed':>8}")
    for r in counts:
        typer.echo(f"{r['system']:<12}{r['taken']:>9}{r['parts']:>7}{r['waiting']:>9}{r['published']:>11}{r['skipped']:>9}{r['redelivered']:>13}{r['written']:>9}{r['failed']:>8}")
    if failed:
        typer.echo("")
        typer.echo("latest write-backs that failed (ticket.write_back_failed):")
        for f in failed:
            typer.echo(f"  {f['at']:%Y-%m-%d %H:%M:%S}  {f['ticket_id']}  {f['upstream']}  {f['cause_type']}  {f['reason_code']}: {f['reason']}")
