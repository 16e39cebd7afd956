"""``workforce audit``: the auditor's view of governance's audit trail.

verify (the hash chains, and signed checkpoints of their heads), explain one action, a ticket's
timeline, search, export (JSON Lines, Parquet), reports, checkpoints, and retention with legal holds.
Reads and retention go straight to governance's PostgreSQL (``DATABASE_URL``, or the running stack's
``stack.json``), as the connecting user.
"""

from __future__ import annotations

import asyncio
import getpass
import json
import os
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, NoReturn, TypeVar

import asyncpg
import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from deploy.endpoints import NoStack, endpoints
from deploy.stack import ROOT
from services.governance import audit as trail
from services.governance import chain, checkpoints, explain, retention, search
from services.governance.reports import audit_report

T = TypeVar("T")

app = typer.Typer(no_args_is_help=True, help="The audit trail: verify its hash chains, explain actions, search, export, report, retention.")
retention_app = typer.Typer(no_args_is_help=True, help="How long each team's records are kept, and legal holds that keep them longer.")
app.add_typer(retention_app, name="retention")

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

VarOption = Annotated[Path, typer.Option("--var", envvar="WORKFORCE_VAR", help="The var folder of the `workforce up` to talk to (its stack.json); DATABASE_URL overrides it.")]
DEFAULT_VAR = ROOT / ".var"
AsOption = Annotated[str, typer.Option("--as", envvar="WORKFORCE_USER", default_factory=getpass.getuser, show_default=False, help="Who you are, as the records say (default: $WORKFORCE_USER, else your OS user).")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


def _fail(message: str) -> NoReturn:
    err.print(Text(message, style="red"))
    raise typer.Exit(1)


def _database(var: Path) -> str:
    if url := os.environ.get("DATABASE_URL"):
        return url
    try:
        _, database = endpoints(var)
    except NoStack as exc:
        _fail(f"{exc}; or set DATABASE_URL")
    if database is None:
        _fail("the audit trail is in governance's PostgreSQL: set DATABASE_URL, or run beside `workforce up` (its stack.json names the database)")
    return database


def _with_db(var: Path, fn: Callable[[asyncpg.Connection], Awaitable[T]]) -> T:
    database = _database(var)

    async def run() -> T:
        try:
            conn = await asyncpg.connect(database, server_settings={"search_path": "governance"})
        except (OSError, asyncpg.PostgresError) as exc:
            _fail(f"cannot reach PostgreSQL: {exc}")
        try:
            return await fn(conn)
        except asyncpg.UndefinedTableError as exc:
            _fail(f"{exc}: is this the database governance runs on (and has it started once)?")
        finally:
            await conn.close()

    return asyncio.run(run())


def _secret(var: Path) -> tuple[str | None, str | None]:
    """(AUDIT_SIGNING_KEY, WORKFORCE_SECRETS_KEY or the local stack's key)."""
    secrets_key = os.environ.get("WORKFORCE_SECRETS_KEY")
    if not secrets_key and (var / "secrets.key").exists():
        secrets_key = (var / "secrets.key").read_text().strip()
    return os.environ.get("AUDIT_SIGNING_KEY") or None, secrets_key or None


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    return str(value)


def _print_json(value: Any) -> None:
    typer.echo(json.dumps(value, default=_jsonable, indent=1, ensure_ascii=False))


def _since(days: int | None, since: datetime | None) -> datetime | None:
    if since is not None:
        return since if since.tzinfo else since.replace(tzinfo=UTC)
    return datetime.now(UTC) - timedelta(days=days) if days else None


# --- verify and checkpoints ----------------------------------------------------------------


@app.command()
def verify(
    team: Annotated[list[str] | None, typer.Option(help="Only these teams' chains (repeatable).")] = None,
    checkpoint: Annotated[Path | None, typer.Option(help="A signed checkpoint file, or a folder of them: each head must still be in its chain.")] = None,
    public_key: Annotated[str | None, typer.Option(envvar="AUDIT_PUBLIC_KEY", help="The trusted checkpoint key (base64). Default: derived from the signing secret, if this machine has it.")] = None,
    var: VarOption = DEFAULT_VAR,
) -> None:
    """Recompute every team's hash chain; report the first broken link of each. Exit 1 if any."""
    trusted = public_key
    if checkpoint is not None and trusted is None:
        try:
            trusted = chain.public_key_text(checkpoints.key_from(*_secret(var)).public_key())
        except checkpoints.NoSigningKey:
            err.print("no trusted public key (--public-key): checking each checkpoint against the key it names", style="yellow")

    async def run(conn: asyncpg.Connection) -> trail.Verification:
        result = await trail.verify(conn, teams=team or None)
        for path in checkpoints.files(checkpoint) if checkpoint else []:
            try:
                heads = chain.checked_heads(checkpoints.read(path), trusted_key=trusted)
            except chain.CheckpointError as exc:
                result.checkpoint_problems.append(f"{path.name}: {exc}")
                continue
            result.checkpoint_problems += [f"{path.name}: {p}" for p in await trail.check_checkpoint(conn, heads)]
        return result

    result = _with_db(var, run)
    for t in result.teams:
        start = f" (from retention anchor {t.start.seq})" if t.start.seq else ""
        if t.problem is None:
            out.print(f"[green]ok[/]     {t.team}: {t.checked} records, head {t.verified_through} {t.head.hex()[:16]}...{start}")
        else:
            out.print(f"[red]BROKEN[/] {t.problem}  (verified through {t.verified_through}{start})")
    for problem in result.checkpoint_problems:
        out.print(f"[red]CHECKPOINT[/] {problem}")
    if checkpoint and not result.checkpoint_problems:
        out.print(f"[green]ok[/]     {len(checkpoints.files(checkpoint))} checkpoint(s) match")
    if not result.ok:
        raise typer.Exit(1)
    out.print(f"{result.records} records in {len(result.teams)} chain(s) verified")


@app.command("checkpoint")
def write_checkpoint(
    out_dir: Annotated[Path, typer.Option("--out", help="Folder to write the checkpoint into.")] = Path(".var") / "audit" / "checkpoints",
    var: VarOption = DEFAULT_VAR,
) -> None:
    """Write a signed checkpoint of every team's chain head now (governance also writes them periodically)."""
    try:
        key = checkpoints.key_from(*_secret(var))
    except checkpoints.NoSigningKey as exc:
        _fail(str(exc))
    database = _database(var)
    path, document = _with_db(var, lambda conn: checkpoints.write(conn, out_dir, key=key, database=checkpoints.database_name(database)))
    out.print(f"wrote {path}: {len(document['heads'])} chain head(s), public key {document['public_key']}")


# --- explain and ticket --------------------------------------------------------------------


def _show_action(a: explain.Action) -> None:
    r = a.row
    manager = r["manager"] or {}
    out.print(f"[bold]action {r['action_id']}[/]  {r['at']:%Y-%m-%d %H:%M:%S}Z  team {r['team']}")
    out.print(f"  who    coworker {r['coworker']} v{r['coworker_version'] or '?'}, manager {manager.get('name', '?')} <{manager.get('email', '?')}>"
              + (f", handed down via {' -> '.join(r['delegation']['chain'])}" if r["delegation"] else ""))  # fmt: skip
    out.print(f"  what   {r['system']} {r['operation']} (step {r['step']} {r['step_name']} of {r['skill']}{', compensation' if r['kind'] == 'compensation' else ''}): {r['status']}"
              + (f" - {r['error']}" if r["error"] else ""))  # fmt: skip
    out.print(f"         inputs {json.dumps(r['inputs'], ensure_ascii=False)}  outputs {json.dumps(r['outputs'], ensure_ascii=False)}")
    out.print(f"  why    ticket {r['ticket_id']}: {r['ticket_title']!r} from {r['requester']}")
    if t := r["triage"]:
        out.print(f"         triage: {t.get('category')} -> {t.get('coworker')} / {t.get('skill')}, confidence {t.get('confidence')} ({t.get('method')}), model {t.get('model')} version {t.get('model_version')}, {t.get('priority')}")
    if p := r["policy"]:
        out.print(f"         policy: allowed by rule {p.get('rule')} (decision {p.get('decision_id')}): {p.get('reason')}")
        under = f"version {p['policy_version']}" + (f", file sha256 {p['policy_sha256'][:16]}..." if p.get("policy_sha256") else "") if p.get("policy_version") else "a version not recorded (before policy files)"
        out.print(f"         policy in force: {under}")
    if ap := r["approval"]:
        out.print(f"         approval: {'granted' if ap.get('granted') else 'rejected'} by {ap.get('by')} at {ap.get('at')}")
    elif a.approval_needed:
        out.print("         approval: [red]needed, none on record[/]")
    out.print(f"  cost   {r['model_calls']} model call(s) on this ticket, {r['tokens']} tokens, {r['cost_usd']} USD")
    out.print("  audit  " + ("[green]complete[/]" if a.complete else f"[red]incomplete[/]: missing {', '.join(a.missing)}"))


def _show_timeline(entries: list[explain.Entry], ticket_id: str) -> None:
    for e in entries:
        child = f" [{e.ticket_id}]" if e.ticket_id != ticket_id else ""
        out.print(f"{e.at:%H:%M:%S.%f}"[:-3] + f"  {e.type:<18} {e.actor:<28}{child} {e.summary}")


@app.command("explain")
def explain_(action_id: Annotated[str, typer.Argument(help="The action: a skill.step event id.")], as_json: JsonOption = False, var: VarOption = DEFAULT_VAR) -> None:
    """Who did this action, what it did, why it was allowed, and what it cost; then its ticket's timeline up to it."""

    async def run(conn: asyncpg.Connection) -> tuple[explain.Action | None, list[explain.Entry]]:
        action = await explain.explain(conn, action_id)
        return action, (await explain.timeline(conn, action["ticket_id"]) if action else [])

    action, entries = _with_db(var, run)
    if action is None:
        _fail(f"no action {action_id!r} in the audit trail (an action is a skill.step record; `workforce audit search --type skill.step` lists them)")
    if as_json:
        _print_json({**action.row, "complete": action.complete, "missing": action.missing})
        return
    _show_action(action)
    out.print("\n[bold]timeline[/]")
    _show_timeline([e for e in entries if e.at <= action["at"]], action["ticket_id"])


@app.command()
def ticket(ticket_id: Annotated[str, typer.Argument(help="The ticket id (the events' correlation id).")], as_json: JsonOption = False, var: VarOption = DEFAULT_VAR) -> None:
    """Everything on record about a ticket, as a timeline, with each action explained."""

    async def run(conn: asyncpg.Connection) -> tuple[list[explain.Entry], list[explain.Action]]:
        return await explain.timeline(conn, ticket_id), await explain.actions(conn, ticket_id=ticket_id)

    entries, actions = _with_db(var, run)
    if not entries:
        _fail(f"no records of ticket {ticket_id!r}")
    if as_json:
        _print_json({"timeline": [e.__dict__ for e in entries], "actions": [{**a.row, "complete": a.complete, "missing": a.missing} for a in actions]})
        return
    _show_timeline(entries, ticket_id)
    for action in actions:
        out.print()
        _show_action(action)


# --- search, export, report ----------------------------------------------------------------


def _query(coworker: str | None, team: str | None, system: str | None, type_: str | None, outcome: str | None, since: datetime | None, until: datetime | None, days: int | None, ticket_: str | None, limit: int | None) -> search.Query:
    if outcome and outcome not in search.OUTCOMES:
        raise typer.BadParameter(f"{outcome!r} is not an outcome; one of: {', '.join(search.OUTCOMES)}", param_hint="--outcome")
    return search.Query(coworker, team, system, type_, outcome, _since(days, since), until.replace(tzinfo=until.tzinfo or UTC) if until else None, ticket_, limit)


Coworker = Annotated[str | None, typer.Option(help="A coworker (its actions, and records about it).")]
Team = Annotated[str | None, typer.Option(help="A team.")]
System = Annotated[str | None, typer.Option(help="A system, e.g. okta.")]
TypeOpt = Annotated[str | None, typer.Option("--type", help="An event type, or a prefix: skill.step, policy.*")]
Outcome = Annotated[str | None, typer.Option(help=f"One of: {', '.join(search.OUTCOMES)}.")]
Since = Annotated[datetime | None, typer.Option(help="From this time (UTC unless it says).")]
Until = Annotated[datetime | None, typer.Option(help="Before this time.")]
Days = Annotated[int | None, typer.Option(min=1, help="The last DAYS days (instead of --since).")]
TicketOpt = Annotated[str | None, typer.Option("--ticket", help="One ticket.")]


@app.command("search")
def search_(
    coworker: Coworker = None, team: Team = None, system: System = None, type_: TypeOpt = None, outcome: Outcome = None,
    since: Since = None, until: Until = None, days: Days = None, ticket_: TicketOpt = None,
    limit: Annotated[int, typer.Option(min=1, help="At most this many records.")] = 50,
    as_json: JsonOption = False, var: VarOption = DEFAULT_VAR,
) -> None:  # fmt: skip
    """Records by coworker, team, system, action type, outcome and time, oldest first."""
    query = _query(coworker, team, system, type_, outcome, since, until, days, ticket_, limit)
    found = _with_db(var, lambda conn: search.search(conn, query))
    if as_json:
        _print_json(found)
        return
    grid = Table(title=f"{len(found)} record(s)", title_justify="left")
    for column in ("time", "team", "#", "type", "actor", "ticket", "outcome", "what"):
        grid.add_column(column, overflow="fold")
    for r in found:
        grid.add_row(f"{r['event_time']:%Y-%m-%d %H:%M:%S}", r["team"], str(r["team_seq"]), r["type"], r["actor"], r["ticket_id"], r["outcome"] or "", explain.describe(r["type"], r["event"]["data"]))
    out.print(grid)


@app.command()
def export(
    out_file: Annotated[Path, typer.Option("--out", help="The file to write.")],
    format_: Annotated[str, typer.Option("--format", help="jsonl or parquet (default: from --out's suffix).")] = "",
    coworker: Coworker = None, team: Team = None, system: System = None, type_: TypeOpt = None, outcome: Outcome = None,
    since: Since = None, until: Until = None, days: Days = None, ticket_: TicketOpt = None,
    var: VarOption = DEFAULT_VAR,
) -> None:  # fmt: skip
    """Export the records found (with their chain position and hash) as JSON Lines or Parquet."""
    fmt = format_ or ("parquet" if out_file.suffix == ".parquet" else "jsonl")
    if fmt not in ("jsonl", "parquet"):
        raise typer.BadParameter(f"{fmt!r}: the formats are jsonl and parquet", param_hint="--format")
    query = _query(coworker, team, system, type_, outcome, since, until, days, ticket_, None)
    writer = search.export_parquet if fmt == "parquet" else search.export_jsonl
    n = _with_db(var, lambda conn: writer(conn, query, out_file))
    out.print(f"wrote {n} record(s) to {out_file} ({fmt})")


@app.command()
def report(
    days: Annotated[int, typer.Option(min=1, help="Over the last DAYS days.")] = 30,
    as_json: JsonOption = False,
    var: VarOption = DEFAULT_VAR,
) -> None:
    """Actions per coworker per system, denials and reasons, escalations, approvals and who gave them,
    unused permissions, and the audit pass rate (actions whose who/what/why are all on record)."""
    found = _with_db(var, lambda conn: audit_report(conn, since=datetime.now(UTC) - timedelta(days=days), unused_days=days))
    if as_json:
        _print_json(found)
        return
    sections = {
        "actions per coworker per system": ("actions", ("coworker", "system", "done", "failed")),
        "denials and their reasons": ("denials", ("coworker", "rule", "reason", "n")),
        "escalations": ("escalations", ("team", "queue", "reason_code", "n")),
        "approvals and who gave them": ("approvals", ("decided_by", "coworker", "skill", "granted", "rejected")),
        "unused permissions": ("unused_permissions", ("coworker", "version", "unused", "share_unused")),
    }
    for title, (key, columns) in sections.items():
        grid = Table(title=f"{title} (last {days} days)", title_justify="left")
        for c in columns:
            grid.add_column(c, overflow="fold")
        for row in found[key]:
            grid.add_row(*[", ".join(row[c]) if isinstance(row[c], list) else str(row[c]) for c in columns])
        out.print(grid if found[key] else f"{title}: none")
    rate = found["pass_rate"]
    shown = "n/a (no actions)" if rate["rate"] is None else f"{rate['rate']:.1%} ({rate['complete']} of {rate['actions']} actions)"
    out.print(f"\naudit pass rate: {shown}" + ("".join(f"\n  missing {gap}: {n}" for gap, n in rate["gaps"].items())))


# --- retention -----------------------------------------------------------------------------


@retention_app.command("show")
def retention_show(var: VarOption = DEFAULT_VAR) -> None:
    """Each team's retention and the legal holds in force."""
    default = int(os.environ.get("AUDIT_RETENTION_DAYS", "2557"))

    async def run(conn: asyncpg.Connection) -> tuple[dict[str, int], list[asyncpg.Record]]:
        return await retention.policies(conn, default), await conn.fetch("SELECT * FROM audit_legal_holds WHERE released_at IS NULL ORDER BY hold_id")

    policies, holds = _with_db(var, run)
    for team, days in policies.items():
        out.print(f"{team:<20} keep {days} days")
    for h in holds:
        out.print(f"hold {h['hold_id']}: {h['team']}{' ticket ' + h['correlation_id'] if h['correlation_id'] else ' (whole team)'} by {h['placed_by']} at {h['placed_at']:%Y-%m-%d}: {h['reason']}")


@retention_app.command("set")
def retention_set(team: str, days: Annotated[int, typer.Argument(min=1)], as_: AsOption, var: VarOption = DEFAULT_VAR) -> None:
    """Keep TEAM's records DAYS days (every setting is kept, with who made it)."""
    _with_db(var, lambda conn: retention.set_retention(conn, team, days, by=f"human:{as_}"))
    out.print(f"{team}: records are kept {days} days")


@retention_app.command("hold")
def retention_hold(
    team: str, as_: AsOption,
    reason: Annotated[str, typer.Option(help="The matter the hold is for.")],
    ticket_: TicketOpt = None, var: VarOption = DEFAULT_VAR,
) -> None:  # fmt: skip
    """Place a legal hold on a team's records (or one ticket's): retention removes none of them, nor anything after."""
    hold = _with_db(var, lambda conn: retention.place_hold(conn, team, ticket=ticket_, reason=reason, by=f"human:{as_}"))
    out.print(f"hold {hold} placed on {team}" + (f" ticket {ticket_}" if ticket_ else ""))


@retention_app.command("release")
def retention_release(hold_id: int, as_: AsOption, var: VarOption = DEFAULT_VAR) -> None:
    """Release a legal hold."""
    if not _with_db(var, lambda conn: retention.release_hold(conn, hold_id, by=f"human:{as_}")):
        _fail(f"no hold {hold_id} in force")
    out.print(f"hold {hold_id} released")


@retention_app.command("apply")
def retention_apply(as_: AsOption, var: VarOption = DEFAULT_VAR) -> None:
    """Remove the records past their team's retention (oldest first, stopping at a held record), leaving an anchor the chain verifies from."""
    default = int(os.environ.get("AUDIT_RETENTION_DAYS", "2557"))
    applied = _with_db(var, lambda conn: retention.apply(conn, default_days=default, by=f"human:{as_}", now=datetime.now(UTC)))
    for a in applied:
        held = f", stopped at held record {a.held_from}" if a.held_from else ""
        out.print(f"{a.team:<20} keep {a.keep_days} days: removed {a.removed}" + (f" (through {a.through_seq})" if a.through_seq else "") + held)
