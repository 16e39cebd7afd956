"""``workforce mcp``: the skills service's MCP endpoint, for MCP clients acting as a coworker."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated

import typer

from deploy.stack import ROOT

app = typer.Typer(no_args_is_help=True, help="Every skill as an MCP tool (the skills service, SKILLS_MCP_PORT): tokens for MCP clients.")

VarOption = Annotated[Path, typer.Option("--var", envvar="WORKFORCE_VAR", help="The var folder of the `workforce up` whose secrets key signs the token (var/secrets.key).")]
_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")


def _key(var: Path) -> str:
    """``WORKFORCE_SECRETS_KEY``, else the local stack's key; never made up here (a token from a key the
    stack does not use would be refused)."""
    if key := os.environ.get("WORKFORCE_SECRETS_KEY"):
        return key
    path = var / "secrets.key"
    if not path.exists():
        typer.echo(f"no secrets key: set WORKFORCE_SECRETS_KEY, or start the stack once with `workforce up` (it keeps its key in {path})", err=True)
        raise typer.Exit(1)
    return path.read_text().strip()


@app.command()
def token(
    coworker: Annotated[str, typer.Argument(help="The coworker the MCP client acts as, e.g. jordan.")],
    var: VarOption = ROOT / ".var",
) -> None:
    """Print the bearer token that lets an MCP client call skills as COWORKER (its skills, scopes and approvals apply).

    Send it as `Authorization: Bearer <token>` to http://127.0.0.1:8095/mcp (SKILLS_MCP_HOST/PORT). It is
    derived from the secrets key, so it lasts until the key changes: keep it as secret as the key."""
    if not _NAME.match(coworker) or len(coworker) > 100:
        raise typer.BadParameter(f"{coworker!r} is not a coworker name (lower-case letters, digits, '.', '_' and '-')")
    from services.skills.mcp_server import token_for

    typer.echo(token_for(_key(var), coworker))
