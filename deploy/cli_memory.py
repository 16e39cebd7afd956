"""``workforce memory``: forget a requester (right to be forgotten), recall what memory knows, and
ingest documents as a team's knowledge. Everything goes over Kafka: memory acts, governance audits."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from deploy.cli_coworkers import AsOption
from deploy.stack import ROOT

app = typer.Typer(no_args_is_help=True, help="Memory: forget a requester, recall, ingest documents as team knowledge.")
out = Console(highlight=False)
err = Console(stderr=True, highlight=False)
VarOption = Annotated[Path, typer.Option(help="Where the running stack keeps its address.")]


def _bootstrap(var: Path) -> str:
    from deploy.endpoints import NoStack, endpoints

    try:
        return endpoints(var)[0]
    except NoStack as exc:
        err.print(str(exc))
        raise typer.Exit(1) from None


@app.command()
def forget(
    requester: Annotated[str, typer.Option(help="The requester id whose memories go (all teams, history included).")],
    actor: AsOption,
    reason: Annotated[str, typer.Option(help="Why, for the audit trail (e.g. the erasure request's reference).")] = "right-to-be-forgotten request",
    timeout: Annotated[float, typer.Option(help="Seconds to wait for memory's answer.")] = 60.0,
    var: VarOption = ROOT / ".var",
) -> None:
    """Ask memory to forget a requester: sends memory.erasure.requested, waits for memory.forgotten."""
    from contracts.envelope import Actor
    from deploy.memory import MemoryDesk

    desk = MemoryDesk(_bootstrap(var), Actor.human(actor))
    try:
        answer = asyncio.run(desk.forget("requester", requester, reason=reason[:500], timeout_s=timeout))
    except TimeoutError as exc:
        err.print(f"{exc} (is the memory service running?)")
        raise typer.Exit(1) from None
    out.print(f"forgot {answer.data.deleted} memories of requester {requester} (event {answer.id})")


@app.command()
def recall(
    text: Annotated[str, typer.Argument(help="What to recall memories about.")],
    team: Annotated[str, typer.Option(help="The team whose memory is searched (only that team's).")],
    actor: AsOption,
    requester: Annotated[str | None, typer.Option(help="Weigh this requester's memories higher.")] = None,
    budget: Annotated[int, typer.Option(help="Token budget of the answer.")] = 500,
    ticket: Annotated[str | None, typer.Option(help="The ticket it is for: its own memories rank first.")] = None,
    context: Annotated[int, typer.Option(help="With --ticket: also print the ticket's working conversation in this many tokens.")] = 0,
    var: VarOption = ROOT / ".var",
) -> None:
    """Ask memory what it knows about TEXT (memory.recall.requested -> memory.recall)."""
    from contracts.envelope import Actor
    from deploy.memory import MemoryDesk

    desk = MemoryDesk(_bootstrap(var), Actor.human(actor))
    answer = asyncio.run(desk.recall(team, text, ticket_id=ticket, requester_id=requester, token_budget=budget, context_budget=context))
    for item in answer.data.items:
        out.print(f"[bold]{item.score:.3f}[/] {item.scope:<9} {item.tokens:>4} tok  {item.text.splitlines()[0][:100]}")
    out.print(f"{len(answer.data.items)} memories, {answer.data.tokens}/{answer.data.token_budget} tokens")
    if context and answer.data.context:
        out.print(f"\n[bold]working context of {ticket}[/] ({answer.data.context_turns} turns in memory, {answer.data.context_tokens}/{context} tokens)")
        out.print(answer.data.context, markup=False, highlight=False)


@app.command()
def ingest(
    path: Annotated[Path, typer.Argument(help="A file or a folder of .md, .html, .txt, .pdf files.")],
    team: Annotated[str, typer.Option(help="The team whose knowledge this is.")],
    actor: AsOption,
    var: VarOption = ROOT / ".var",
) -> None:
    """Read, redact and chunk documents and send the chunks to memory as team knowledge (memory.knowledge)."""
    from contracts.envelope import Actor
    from deploy.memory import MemoryDesk, files, knowledge_events, read_document

    who = Actor.human(actor)
    try:
        found = files(path)
    except FileNotFoundError as exc:
        err.print(str(exc))
        raise typer.Exit(1) from None
    events, failed = [], 0
    for file in found:
        try:
            events += list(knowledge_events(read_document(file), team=team, actor=who))
        except Exception as exc:  # one unreadable file does not stop the rest
            failed += 1
            err.print(f"skipped {file}: {exc}")
    if not events:
        err.print(f"nothing to ingest under {path}")
        raise typer.Exit(1)
    desk = MemoryDesk(_bootstrap(var), who)
    with Progress(TextColumn("ingesting"), BarColumn(), MofNCompleteColumn(), TextColumn("chunks"), TimeElapsedColumn(), console=err) as bar:
        task = bar.add_task("chunks", total=len(events))
        asyncio.run(desk.ingest(events, progress=lambda n: bar.advance(task, n)))
    out.print(f"sent {len(events)} chunks of {len(found) - failed} documents to memory for team {team}" + (f"; {failed} skipped" if failed else ""))
