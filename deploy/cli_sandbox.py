"""``workforce sandbox``: the simulated customer systems beside a running ``workforce up``."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer

from deploy.endpoints import NoStack, endpoints
from deploy.stack import ROOT

app = typer.Typer(help="The simulated customer systems (deploy/sandbox) that `workforce up` runs.", no_args_is_help=True)

VarOption = Annotated[Path, typer.Option("--var", envvar="WORKFORCE_VAR", help="The var folder of the `workforce up` to talk to (its stack.json); DATABASE_URL overrides it.")]


@app.command()
def seed(
    reset: Annotated[bool, typer.Option("--reset", help="Put the fake organisation back as seeded: everything the skills did is forgotten (issued tokens stay valid).")] = False,
    employees: Annotated[int, typer.Option(min=10, help="How many people the organisation has.")] = 300,
    var: VarOption = ROOT / ".var",
) -> None:
    """Seed the simulated systems with the fake organisation (it adds only what is missing), or reset them."""
    from deploy.sandbox.__main__ import seed as seed_systems
    from deploy.sandbox.server import SCHEMA

    try:
        _, database = endpoints(var)
    except NoStack as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from None
    if database is None:
        typer.echo("no database to seed: set DATABASE_URL, or run beside `workforce up`", err=True)
        raise typer.Exit(1)
    added = asyncio.run(seed_systems(database, SCHEMA, employees, reset=reset))
    typer.echo(("reset and seeded: " if reset else "seeded: ") + ", ".join(f"{k} {v}" for k, v in added.items()))
