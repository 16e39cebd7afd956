"""``workforce keys``: the keyring every record is signed and verified with (runtime/signing.py)."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.console import Console

from deploy import keys
from runtime.signing import PUBLIC_FILE, SERVICES_FILE, keys_folder, private_path

app = typer.Typer(no_args_is_help=True, help="The keys records are signed with: the services', the upstream adapter's, each person's.")
out = Console()


@app.command()
def init(people: Annotated[list[str] | None, typer.Argument(help="People to issue keys to as well (handles, e.g. priya.raman).")] = None) -> None:
    """Make the keyring in $WORKFORCE_KEYS (else .var/keys) where keys are missing; replaces none."""
    folder = keys_folder()
    made = keys.init(folder, people=[keys.LOCAL_ADMIN, *(people or [])])
    out.print(f"keyring {folder}: {', '.join(made) if made else 'nothing missing'}")


@app.command()
def person(handle: Annotated[str, typer.Argument(help="The person's handle, the local part of their email, e.g. priya.raman.")]) -> None:
    """Issue a person their own key: what they sign (commands, approvals) is believed as them, and only them."""
    folder = keys_folder()
    try:
        made = keys.person(folder, handle)
    except ValueError as exc:
        out.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from None
    where = private_path(folder, f"human:{handle}")
    out.print(f"human:{handle}: {'key issued' if made else 'has a key'}; private key {where} (give it to them alone), public key in {folder / PUBLIC_FILE}")


@app.command("list")
def list_() -> None:
    """Who can sign: the services (HMAC keys) and the adapter and people (public keys). Never prints a key."""
    folder = keys_folder()
    services = json.loads((folder / SERVICES_FILE).read_text()) if (folder / SERVICES_FILE).exists() else {}
    public = json.loads((folder / PUBLIC_FILE).read_text()) if (folder / PUBLIC_FILE).exists() else {}
    if not services and not public:
        out.print(f"[red]no keyring in {folder}: run `workforce keys init`[/red]")
        raise typer.Exit(1)
    for name in sorted(services):
        out.print(f"{name}\tservice (HMAC-SHA256)")
    for name in sorted(public):
        here = "private key here" if private_path(folder, name).exists() else "public key only"
        out.print(f"{name}\tEd25519, {here}")
