"""``workforce``: start the stack, run the demo, publish tickets, regenerate the AsyncAPI document."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from pathlib import Path
from typing import Annotated

import typer

from deploy import cli_audit, cli_coworkers, cli_mcp, cli_triage
from deploy.stack import ROOT, SERVICES, Stack

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Workforce: an AI workforce for IT and HR service desks.")

VarOption = Annotated[Path, typer.Option(help="Where embedded data and logs live.")]


@app.command()
def up(
    var: VarOption = ROOT / ".var",
    services: Annotated[str, typer.Option(help="Comma-separated services to start.")] = ",".join(SERVICES),
) -> None:
    """Start the broker, PostgreSQL and the services; stop them all on Ctrl-C."""
    stack = Stack(var=var, services=tuple(s.strip() for s in services.split(",") if s.strip()))
    try:
        stack.up()
        assert stack.broker is not None
        typer.echo(f"kafka      {stack.broker.bootstrap}")
        typer.echo(f"postgres   {_safe(stack.database_url)}")
        if stack.simulator is not None:
            typer.echo(f"systems    {stack.simulator.url}/<okta|entra|sharepoint|workday|payroll|jumpcloud|jira|slack|facilities>  (simulated; log {stack.var / 'logs' / 'sandbox.log'})")
        for name, procs in stack.running.items():
            for proc in procs:
                typer.echo(f"{name:<10} pid {proc.process.pid if proc.process else '?'}  http://127.0.0.1:{proc.health_port}/ready  log {proc.log}")
        typer.echo("running; Ctrl-C stops everything")
        signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
        while all(p.alive for procs in stack.running.values() for p in procs):
            time.sleep(0.5)
        dead = [p for procs in stack.running.values() for p in procs if not p.alive]
        typer.echo(f"service {dead[0].name} stopped unexpectedly; see {dead[0].log}", err=True)
        raise typer.Exit(1)
    except KeyboardInterrupt:
        typer.echo("stopping")
    finally:
        stack.down()


@app.command()
def demo(
    tickets: Annotated[Path, typer.Option(help="JSON list of tickets to publish.")] = ROOT / "deploy" / "samples" / "tickets.json",
    var: VarOption = ROOT / ".var",
) -> None:
    """Start the stack, publish sample tickets, and print what happened to each."""
    from deploy.demo import run

    stack = Stack(var=var)
    typer.echo("starting the stack (broker, PostgreSQL, the simulated systems, six services)...")
    started = time.monotonic()
    with stack.session():
        typer.echo(f"stack up in {time.monotonic() - started:.1f}s; publishing {tickets}")
        asyncio.run(run(stack, tickets, echo=typer.echo))


@app.command()
def publish(
    tickets: Annotated[Path, typer.Argument(help="JSON list of tickets.")],
    bootstrap: Annotated[str, typer.Option(envvar="KAFKA_BOOTSTRAP_SERVERS")] = "127.0.0.1:9092",
) -> None:
    """Publish tickets as ticket.created events, the way an upstream ticketing system does."""
    from deploy import upstream
    from runtime.signing import KeysMissing

    try:
        sent = asyncio.run(upstream.publish(bootstrap, [upstream.ticket_event(t) for t in upstream.load(tickets)]))
    except KeysMissing as exc:  # unsigned, every service would refuse them
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from None
    typer.echo(f"published {sent} ticket(s) to {bootstrap}, signed as the upstream adapter")


@app.command()
def asyncapi(check: Annotated[bool, typer.Option(help="Fail if the checked-in document is stale.")] = False) -> None:
    """Regenerate contracts/asyncapi.yaml from the services' code."""
    from deploy.asyncapi import DOCUMENT, generate

    document = generate()
    if check:
        if not DOCUMENT.exists() or DOCUMENT.read_text() != document:
            typer.echo(f"{DOCUMENT} is stale: run `workforce asyncapi`", err=True)
            raise typer.Exit(1)
        typer.echo(f"{DOCUMENT} is up to date")
        return
    DOCUMENT.write_text(document)
    typer.echo(f"wrote {DOCUMENT}")


app.add_typer(cli_triage.triage, name="triage")
app.add_typer(cli_triage.evaluation, name="eval")
app.add_typer(cli_coworkers.app, name="coworkers")
app.add_typer(cli_coworkers.approvals, name="approvals")
app.add_typer(cli_mcp.app, name="mcp")
app.add_typer(cli_audit.app, name="audit")
app.add_typer(__import__("deploy.cli_memory", fromlist=["app"]).app, name="memory")
app.command("org")(cli_coworkers.org)
app.command("spend")(__import__("deploy.cli_spend", fromlist=["spend"]).spend)
app.add_typer(__import__("deploy.cli_keys", fromlist=["app"]).app, name="keys")
app.add_typer(__import__("deploy.cli_sandbox", fromlist=["app"]).app, name="sandbox")
app.add_typer(__import__("deploy.cli_desk", fromlist=["app"]).app, name="desk")
app.command("acls")(__import__("deploy.acls", fromlist=["command"]).command)


def _safe(url: str) -> str:
    """A connection URL without its password, for printing."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return urlunsplit(parts._replace(netloc=netloc))
    return url


def main() -> None:
    from runtime import logs

    os.environ.setdefault("LOG_LEVEL", "WARNING")
    logs.configure("workforce", level=os.environ["LOG_LEVEL"], fmt="console")
    sys.exit(app())


if __name__ == "__main__":
    main()
