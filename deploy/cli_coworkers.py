"""``workforce coworkers``, ``workforce approvals`` and ``workforce org``: a person's hands on the workforce.

Every change travels as an event with the person as its actor (``--as``), answered by the service
that owns it (governance for the lifecycle, skills for approvals), so the audit trail records who
did what. Reads come from the coworker table (the compacted ``coworker.state`` topic), and the
unused-permissions report from governance's audit trail.
"""

from __future__ import annotations

import asyncio
import getpass
from collections.abc import Coroutine, Iterable
from pathlib import Path
from typing import Annotated, Any, NoReturn, TypeVar

import asyncpg
import typer
from aiokafka.errors import KafkaError
from pydantic import ValidationError
from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

from contracts.coworkers import (
    CoworkerManifest,
    LifecycleState,
    ManifestError,
    load_manifest,
    load_workforce,
)
from contracts.envelope import Actor
from contracts.events import ApprovalRequest, CommandName, CoworkerState
from deploy.coworkers import Refused, Workforce
from deploy.endpoints import NoStack, endpoints
from deploy.stack import ROOT
from runtime.signing import KeysMissing
from services.governance.reports import UnusedPermission, unused_permissions

T = TypeVar("T")

app = typer.Typer(no_args_is_help=True, help="The coworkers: list and show them, apply manifests, publish, suspend, resume, offboard; unused permissions.")
approvals = typer.Typer(no_args_is_help=True, help="Supervised actions waiting for a manager's decision.")

out = Console(highlight=False)
err = Console(stderr=True, highlight=False)

STATE_STYLE = {LifecycleState.active: "green", LifecycleState.draft: "yellow", LifecycleState.suspended: "magenta", LifecycleState.offboarded: "dim"}
PAST = {"apply": "applied", "publish": "published", "suspend": "suspended", "resume": "resumed", "offboard": "offboarded"}
MANAGER_ONLY = (
    "Only the coworker's manager may decide: the skills service ignores a decision from anyone else and the "
    "action keeps waiting. Pass --as with the manager's handle, the local part of their email (e.g. priya.raman)."
)


def _check_actor(name: str) -> str:
    try:
        Actor.human(name)
    except ValidationError:
        raise typer.BadParameter(f"{name!r} cannot be an actor name: it needs 1-200 characters without spaces or colons, e.g. priya.raman") from None
    return name


AsOption = Annotated[
    str,
    typer.Option(
        "--as",
        envvar="WORKFORCE_USER",
        default_factory=getpass.getuser,
        callback=_check_actor,
        show_default=False,
        help="Who you are, as the audit trail records it (human:NAME). Default: $WORKFORCE_USER, else your OS user name.",
    ),
]
VarOption = Annotated[Path, typer.Option("--var", envvar="WORKFORCE_VAR", help="The var folder of the `workforce up` to talk to (its stack.json); KAFKA_BOOTSTRAP_SERVERS overrides it.")]
DEFAULT_VAR = ROOT / ".var"
READER = Actor.system("workforce-cli")  # reads send nothing, so no person is recorded


# --- plumbing ------------------------------------------------------------------------------


def _fail(message: str) -> NoReturn:
    """Print ``message`` in red, exactly as given (no markup, no hard wrapping), and exit 1."""
    err.print(Text(message, style="red"), soft_wrap=True)
    raise typer.Exit(1)


def _connect(var: Path) -> tuple[str, str | None]:
    try:
        return endpoints(var)
    except NoStack as exc:
        _fail(str(exc))


def _await(work: Coroutine[Any, Any, T], bootstrap: str) -> T:
    """Run ``work``; a broker that does not answer, or a service that does not reply, is a clear error."""
    try:
        return asyncio.run(work)
    except KafkaError as exc:
        _fail(f"cannot reach Kafka at {bootstrap}: {exc}")
    except TimeoutError as exc:
        _fail(str(exc) or f"no answer from the stack at {bootstrap}")
    except KeysMissing as exc:  # this person has no key: nothing they send would be believed
        _fail(str(exc))


def _table(var: Path, actor: Actor = READER) -> dict[str, CoworkerState]:
    bootstrap, _ = _connect(var)
    workforce = Workforce(bootstrap, actor)
    table = _await(workforce.table(), bootstrap)
    if workforce.skipped:
        err.print(Text(f"{workforce.skipped} record(s) on coworker.state are not rows governance wrote and were skipped", style="yellow"))
    return table


def _row(table: dict[str, CoworkerState], name: str) -> CoworkerState:
    if name not in table:
        _fail(f"no coworker {name!r}; the coworkers are: {', '.join(sorted(table)) or 'none yet'}")
    return table[name]


def _manifest(row: CoworkerState) -> CoworkerManifest:
    """What a coworker is now: its active manifest, or its draft while it has never been published."""
    manifest = row.active or row.draft
    assert manifest is not None, f"coworker {row.coworker} has no manifest"
    return manifest


def _state(row: CoworkerState) -> Text:
    return Text(row.state.value, style=STATE_STYLE[row.state])


def _version(number: int | None) -> str:
    return f"v{number}" if number else "-"


def _manager(manifest: CoworkerManifest) -> str:
    return f"{manifest.manager.name} <{manifest.manager.email}>" if manifest.manager else "(none)"


def _tools(manifest: CoworkerManifest) -> str:
    return "; ".join(f"{system}: {', '.join(scopes)}" for system, scopes in sorted(manifest.tools.items())) or "(none)"


def _short(text: str, limit: int = 48) -> str:
    """One line of a table; the whole text is in `show`."""
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _texts(*values: object) -> list[Text]:
    """Table cells as plain text: names and roles are data, never Rich markup."""
    return [v if isinstance(v, Text) else Text(str(v)) for v in values]


# --- coworkers -----------------------------------------------------------------------------


@app.command("list")
def list_(as_: AsOption, var: VarOption = DEFAULT_VAR) -> None:
    """Every coworker in the coworker table, with its state and versions."""
    table = _table(var, Actor.human(as_))
    if not table:
        out.print("no coworkers yet: apply a manifest with `workforce coworkers apply -f PATH`")
        return
    grid = Table(title=f"{len(table)} coworkers", title_justify="left")
    for column in ("name", "display name", "role", "team", "state", "active", "draft", "manager", "skills"):
        grid.add_column(column, overflow="fold")
    for name in sorted(table):
        row = table[name]
        if row.active is None and row.draft is None:  # a row no governance would write: shown, not trusted
            grid.add_row(*_texts(name, "(no manifest)", "", "", _state(row), _version(row.active_version), _version(row.draft_version), "", ""))
            continue
        m = _manifest(row)
        manager = m.manager.name if m.manager else "(none)"
        grid.add_row(*_texts(name, m.display_name, _short(m.role), m.team, _state(row), _version(row.active_version), _version(row.draft_version), manager, ", ".join(m.skills)))
    out.print(grid)


@app.command()
def show(name: Annotated[str, typer.Argument(help="The coworker's name, e.g. jordan.")], as_: AsOption, var: VarOption = DEFAULT_VAR) -> None:
    """Everything in a coworker's active manifest, and in its draft if it has one."""
    row = _row(_table(var, Actor.human(as_)), name)
    head = Table.grid(padding=(0, 2))
    head.add_column(style="bold")
    head.add_column()
    head.add_row(*_texts("state", _state(row)))
    head.add_row(*_texts("active version", _version(row.active_version)))
    head.add_row(*_texts("draft version", _version(row.draft_version)))
    head.add_row(*_texts("changed", row.changed_at.strftime("%Y-%m-%d %H:%M:%S %Z")))
    out.print(Panel(head, title=Text(f"{_manifest(row).display_name} ({name})", style="bold"), title_align="left"))
    if row.active is not None:
        out.print(_manifest_panel(row.active, f"active v{row.active_version}"))
    if row.draft is not None:
        changed = [f for f in CoworkerManifest.model_fields if row.active is not None and getattr(row.draft, f) != getattr(row.active, f)]
        note = f"; differs from the active version in: {', '.join(changed)}" if changed else ""
        out.print(_manifest_panel(row.draft, f"draft v{row.draft_version} (not live until published{note})"))


def _manifest_panel(m: CoworkerManifest, title: str) -> Panel:
    facts = Table.grid(padding=(0, 2))
    facts.add_column(style="bold")
    facts.add_column()
    for key, value in (
        ("role", m.role),
        ("tone", m.tone),
        ("team", m.team),
        ("manager", _manager(m)),
        ("budget", f"{m.budget.monthly_usd} USD a month" + (f", {m.budget.per_ticket_usd} USD a ticket" if m.budget.per_ticket_usd is not None else "")),
        ("sub-agents", ", ".join(m.sub_agents) or "(none)"),
        ("memory", f"kept {m.memory.retention_days} days; on offboarding: {m.memory.on_offboard}"),
    ):
        facts.add_row(*_texts(key, value))
    soul = Text("\n".join(f"- {line}" for line in m.soul))
    goals = Table("goal", "metric", "target", "skill", title="goals", title_justify="left")
    for goal in m.goals:
        goals.add_row(*_texts(goal.description, goal.metric, f"{goal.target:g}", goal.skill or "-"))
    tools = Table("system", "scopes", title="tools", title_justify="left")
    for system, scopes in sorted(m.tools.items()):
        tools.add_row(*_texts(system, ", ".join(scopes)))
    autonomy = Table("skill", "autonomy", title="skills and autonomy", title_justify="left")
    for skill in m.skills:
        level = m.autonomy_for(skill)
        autonomy.add_row(*_texts(skill, level.value + ("" if skill in m.autonomy else " (default: unlisted skills are supervised)")))
    parts: list[Any] = [facts, Text("\nsoul", style="bold"), soul, goals if m.goals else Text("goals: (none)"), tools if m.tools else Text("tools: (none)"), autonomy if m.skills else Text("skills: (none)")]
    return Panel(Group(*parts), title=Text(title, style="bold"), title_align="left")


@app.command()
def apply(
    file: Annotated[Path, typer.Option("-f", "--file", help="A manifest (.yaml), or a folder of them.")],
    as_: AsOption,
    var: VarOption = DEFAULT_VAR,
) -> None:
    """Send manifests to governance; a changed one becomes a new draft version.

    Publish a draft to make it live; an unchanged manifest changes nothing. Every manifest is checked
    here first, and nothing is sent while any is invalid."""
    manifests = _load(file)
    bootstrap, _ = _connect(var)
    workforce = Workforce(bootstrap, Actor.human(as_))

    async def send() -> bool:
        before = await workforce.table()
        refused = False
        for manifest in manifests:
            row = before.get(manifest.name)
            known = max(row.active_version or 0, row.draft_version or 0) if row else 0
            try:
                answer = await workforce.command("apply", manifest.name, manifest=manifest)
            except Refused as exc:
                err.print(Text(f"{manifest.name}: refused: {exc}", style="red"), soft_wrap=True)
                refused = True
                continue
            version = answer.data.version
            if version <= known:
                out.print(Text(f"{manifest.name}: unchanged (v{version})"))
            else:
                out.print(Text.assemble(f"{manifest.name}: applied v{version} (draft)", (f"; publish it with `workforce coworkers publish {manifest.name}`", "dim")))
        return refused

    if _await(send(), bootstrap):
        raise typer.Exit(1)


def _load(path: Path) -> list[CoworkerManifest]:
    """The manifests at ``path``, validated; every problem of every file printed as it is, then exit 1."""
    if not path.is_dir():
        try:
            return [load_manifest(path)]
        except ManifestError as exc:
            _fail(str(exc))
    files = sorted(path.glob("*.yaml"))
    if not files:
        _fail(f"{path}: no *.yaml manifests in this folder")
    problems = []
    for file in files:
        try:
            load_manifest(file)
        except ManifestError as exc:
            problems.append(str(exc))
    if not problems:
        try:
            return list(load_workforce(path).values())
        except ManifestError as exc:  # the same name in two files
            problems.append(str(exc))
    for problem in problems:
        err.print(Text(problem, style="red"), soft_wrap=True)
    raise typer.Exit(1)


def _transition(command: CommandName, name: str, as_: str, var: Path, reason: str = "") -> None:
    """Send one lifecycle command and print the transition governance made, or its refusal."""
    bootstrap, _ = _connect(var)
    try:
        answer = _await(Workforce(bootstrap, Actor.human(as_)).command(command, name, reason=reason), bootstrap)
    except Refused as exc:
        _fail(f"{name}: {command} refused: {exc}")
    change = answer.data
    source = change.from_state.value if change.from_state else "(new)"
    out.print(Text(f"{name}: {PAST[command]} v{change.version}, {source} -> {change.to_state.value} (by human:{as_})"))


ReasonOption = Annotated[str, typer.Option(help="Why, for the audit trail.")]


@app.command()
def publish(name: Annotated[str, typer.Argument(help="The coworker's name.")], as_: AsOption, var: VarOption = DEFAULT_VAR) -> None:
    """Make the coworker's draft version the active one; work already started finishes on the version it began on."""
    _transition("publish", name, as_, var)


@app.command()
def suspend(name: Annotated[str, typer.Argument(help="The coworker's name.")], as_: AsOption, reason: ReasonOption = "", var: VarOption = DEFAULT_VAR) -> None:
    """Stop an active coworker taking work, reversibly (`resume` brings it back)."""
    _transition("suspend", name, as_, var, reason)


@app.command()
def resume(name: Annotated[str, typer.Argument(help="The coworker's name.")], as_: AsOption, var: VarOption = DEFAULT_VAR) -> None:
    """Let a suspended coworker take work again."""
    _transition("resume", name, as_, var)


@app.command()
def offboard(name: Annotated[str, typer.Argument(help="The coworker's name.")], as_: AsOption, reason: ReasonOption = "", var: VarOption = DEFAULT_VAR) -> None:
    """Retire a coworker for good: an offboarded coworker cannot be resumed, edited or published again."""
    _transition("offboard", name, as_, var, reason)


@app.command()
def permissions(
    as_: AsOption,
    days: Annotated[int, typer.Option(min=1, help="How far back use counts.")] = 30,
    var: VarOption = DEFAULT_VAR,
) -> None:
    """Scopes each active coworker holds but did not use in the last DAYS days.

    Use is a completed skill step in governance's audit trail; unused scopes are candidates to take
    away (least privilege). Needs the database (DATABASE_URL, or the stack's stack.json)."""
    bootstrap, database = _connect(var)
    if database is None:
        _fail("the unused-permissions report reads governance's audit trail in PostgreSQL: set DATABASE_URL, or run it beside `workforce up` (its stack.json names the database)")

    async def report() -> list[UnusedPermission]:
        table = await Workforce(bootstrap, Actor.human(as_)).table()
        try:
            conn = await asyncpg.connect(database)
        except (OSError, asyncpg.PostgresError) as exc:
            _fail(f"cannot reach PostgreSQL at {_safe(database)}: {exc}")
        try:
            return await unused_permissions(conn, table, days)
        except asyncpg.UndefinedTableError:
            _fail(f"{_safe(database)} has no governance.audit_events: is this the database governance runs on?")
        finally:
            await conn.close()

    rows = _await(report(), bootstrap)
    grid = Table(title=f"Unused permissions: granted by the active manifest, not used by a completed step in the last {days} days", title_justify="left")
    for column in ("coworker", "version", "granted", "used", "unused", "unused share"):
        grid.add_column(column, overflow="fold", justify="right" if column in ("granted", "unused share") else "left")
    for r in rows:
        share = Text(f"{r.share_unused:.0%}", style="red" if r.share_unused >= 0.5 else "yellow" if r.share_unused else "green")
        grid.add_row(*_texts(r.coworker, f"v{r.version}", len(r.granted), "\n".join(r.used) or "-", "\n".join(r.unused) or "-", share))
    out.print(grid if rows else "no active coworkers")


def _safe(url: str) -> str:
    from deploy.cli import _safe as without_password

    return without_password(url)


# --- org chart -----------------------------------------------------------------------------


def org(var: VarOption = DEFAULT_VAR) -> None:
    """The org chart: each human manager, the coworkers who answer to them, and their sub-agents."""
    table = _table(var)
    if not table:
        out.print("no coworkers yet: apply a manifest with `workforce coworkers apply -f PATH`")
        return
    nested = {sub for row in table.values() for sub in _manifest(row).sub_agents}
    tops = [name for name in sorted(table) if name not in nested]
    chart = Tree(Text("Workforce", style="bold"))
    shown: set[str] = set()
    by_manager: dict[str, list[str]] = {}
    for name in tops:
        by_manager.setdefault(_manager(_manifest(table[name])), []).append(name)
    for manager, names in sorted(by_manager.items(), key=lambda kv: (kv[0] == "(none)", kv[0])):
        teams = sorted({_manifest(table[n]).team for n in names})
        branch = chart.add(Text(f"{manager}  team {', '.join(teams)}", style="bold"))
        for name in names:
            _branch(branch, name, table, shown, manager, ())
    left = [name for name in sorted(table) if name not in shown]  # only under a delegation cycle
    if left:
        branch = chart.add(Text("not reachable from any manager (delegation cycle)", style="red"))
        for name in left:
            _branch(branch, name, table, shown, "", ())
    out.print(chart)


def _branch(parent: Tree, name: str, table: dict[str, CoworkerState], shown: set[str], manager: str, path: tuple[str, ...]) -> None:
    if name in path:
        parent.add(Text(f"{name} (delegation comes back here)", style="red"))
        return
    row = table.get(name)
    if row is None:
        parent.add(Text(f"{name} (not in the coworker table)", style="red"))
        return
    shown.add(name)
    m = _manifest(row)
    label = Text()
    label.append(name, style="bold")
    label.append(f"  {m.display_name}  ")
    versions = _version(row.active_version) + (f", draft {_version(row.draft_version)}" if row.draft_version else "")
    label.append(f"[{row.state.value} {versions}]", style=STATE_STYLE[row.state])
    if _manager(m) != manager:
        label.append(f"  manager {_manager(m)}")
    label.append(f"\nskills: {', '.join(f'{s} ({m.autonomy_for(s).value})' for s in m.skills) or '(none)'}")
    label.append(f"\ntools: {_tools(m)}", style="dim")
    node = parent.add(label)
    for sub in m.sub_agents:
        _branch(node, sub, table, shown, _manager(m), (*path, name))


# --- approvals -----------------------------------------------------------------------------


def _pending(asked: Iterable[ApprovalRequest], decided: Iterable[Any]) -> list[ApprovalRequest]:
    """Asked and not decided by the approver (a decision from anyone else leaves it waiting)."""
    done = {(d.data.approval_id, str(d.actor)) for d in decided}
    unique = {a.approval_id: a for a in asked}
    return [a for a in unique.values() if (a.approval_id, str(Actor.human(a.approver))) not in done]


@approvals.command("list")
def approvals_list(var: VarOption = DEFAULT_VAR) -> None:
    """Supervised actions waiting for their approver's decision."""
    bootstrap, _ = _connect(var)
    workforce = Workforce(bootstrap, READER)
    asked, decided = _await(workforce.approvals(), bootstrap)
    pending = _pending(asked, decided)
    if workforce.skipped:
        out.print(f"[yellow]{workforce.skipped} record(s) on the approval topics are not approvals signed by their writers and were skipped[/yellow]")
    if not pending:
        out.print("no approvals waiting")
        return
    grid = Table(title=f"{len(pending)} approval(s) waiting", title_justify="left")
    for column in ("approval id", "ticket", "coworker", "skill", "step", "action", "approver"):
        grid.add_column(column, overflow="fold", no_wrap=column == "approval id")  # the id is copied whole
    for a in pending:
        grid.add_row(*_texts(a.approval_id, a.ticket_id, a.coworker, a.skill, f"{a.step} {a.system} {a.operation}", a.action, a.approver))
    out.print(grid)


CommentOption = Annotated[str, typer.Option(help="Said with the decision, for the audit trail.")]
ApprovalId = Annotated[str, typer.Argument(help="The approval id, from `workforce approvals list`.")]


@approvals.command(help=f"Approve a supervised action, which then runs. {MANAGER_ONLY}")
def approve(approval_id: ApprovalId, as_: AsOption, comment: CommentOption = "", var: VarOption = DEFAULT_VAR) -> None:
    _decide(approval_id, as_, var, grant=True, comment=comment)


@approvals.command(help=f"Reject a supervised action; the ticket is escalated to the manager's queue. {MANAGER_ONLY}")
def reject(approval_id: ApprovalId, as_: AsOption, comment: CommentOption = "", var: VarOption = DEFAULT_VAR) -> None:
    _decide(approval_id, as_, var, grant=False, comment=comment)


def _decide(approval_id: str, as_: str, var: Path, *, grant: bool, comment: str) -> None:
    """Send the decision, unless it would be ignored: not asked, already decided, or not the approver's to take."""
    bootstrap, _ = _connect(var)
    workforce = Workforce(bootstrap, Actor.human(as_))

    async def send() -> ApprovalRequest:
        asked, decided = await workforce.approvals()
        request = next((a for a in asked if a.approval_id == approval_id), None)
        if request is None:
            _fail(f"no approval {approval_id!r} was asked for; see `workforce approvals list`")
        if as_ != request.approver:
            _fail(f"approval {approval_id} is for {request.approver}, the manager of {request.coworker}, to decide; you are {as_}. The skills service ignores anyone else's decision: run it with --as {request.approver}")
        if request not in _pending([request], decided):
            earlier = next(d for d in decided if d.data.approval_id == approval_id and d.actor == Actor.human(request.approver))
            _fail(f"approval {approval_id} is already decided: {earlier.type.removeprefix('approval.')} by {request.approver}")
        await workforce.decide(approval_id, grant=grant, comment=comment)
        return request

    request = _await(send(), bootstrap)
    verb = "approved" if grant else "rejected"
    out.print(Text(f"{verb} {approval_id}: {request.coworker} / {request.skill} step {request.step} ({request.system} {request.operation}) on ticket {request.ticket_id}, as human:{as_}"))
