"""Who asked, as the directory knows them, before anything is done for them.

A ticket names its requester twice: an id (``ana.silva``) and an email. Either can be anything the
ticket's sender typed, so neither alone says who asked: a ticket with a made-up id and a colleague's
email once reset the colleague's password. Before any step of a skill runs, the skills service looks
both up in the directory (Okta, where a person's login is their email and their id is that login,
its short name or Okta's own user id), with a read-only credential of its own, and goes on only
when both name the same one person. When they do not, or the directory knows neither, a person gets
the ticket (``identity_mismatch``) and no step runs. A ticket that gives only an id is resolved by
that id when the directory knows exactly one person by it (an upstream that authenticates its users
always sends their email as well).

The person found is what the steps act for (``StepContext.requester``), and the only person whose
answer to a skill's question counts (``not_the_requester``): an answer from anyone else is not
applied, and the request keeps waiting.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import asyncpg

from contracts.envelope import Actor, ActorKind
from contracts.events import Requester
from runtime.vendor.errors import ApiError
from services.skills.connectors.okta import Okta, User
from services.skills.credentials import Vault, store
from services.skills.issuer import Issuer

#: The system people are looked up in.
DIRECTORY = "okta"
#: Whose credential reads it: the skills service's own (every request is checked, whatever its
#: coworker may do on the directory). ``service:skills`` cannot be a coworker's name, and version 0
#: is no manifest's, so a coworker's lifecycle never issues or revokes it.
READER, READER_VERSION, READER_SCOPES = "service:skills", 0, ["users.read"]

#: The error codes of a request stopped here: the directory does not know the requester as one
#: person (a person must find out who asked), or could not be asked (a person must check by hand).
MISMATCH, UNVERIFIABLE = "identity_mismatch", "identity_unverifiable"


@dataclass(frozen=True)
class Person:
    """One person in the directory: its id, login and email."""

    user_id: str
    login: str
    email: str

    @property
    def names(self) -> frozenset[str]:
        """Every way the person can be named (lower case): Okta id, login, email, the login's short name."""
        return frozenset({self.user_id.lower(), self.login.lower(), self.email.lower(), self.login.lower().partition("@")[0]})


class Unbound(Exception):
    """The requester is not one person the directory knows (``MISMATCH``), or the directory could not
    tell (``UNVERIFIABLE``); ``reason`` says what disagreed and names no secret."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(f"{code}: {reason}")
        self.code, self.reason = code, reason


class NotTheRequester(Exception):
    """An answer to a skill's question came from someone other than the requester it was asked of."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# --- the decision (pure) ---------------------------------------------------------------------------


def is_named(user: User, ref: str) -> bool:
    """``ref`` is one of the names the directory knows ``user`` by."""
    return ref == user.id or ref.lower() in {user.login.lower(), user.email.lower(), user.login.lower().partition("@")[0]}


def bind(requester: Requester, by_id: User | None, by_email: User | None) -> Person:
    """The one person the ticket's requester id and email both name, given whom the directory found
    for each (None: nobody, or no email given); raises ``Unbound`` when they are not one person."""
    ident, email = requester.id.strip(), (requester.email or "").strip().lower()
    found_by_id = by_id if by_id is not None and is_named(by_id, ident) else None
    found_by_email = by_email if by_email is not None and email in {by_email.login.lower(), by_email.email.lower()} else None
    where = f"the directory ({DIRECTORY})"
    if email and found_by_email is None:
        if found_by_id is None:
            raise Unbound(MISMATCH, f"neither the requester's id {ident!r} nor their email {email} is anyone {where} knows")
        raise Unbound(MISMATCH, f"the requester's email {email} is no one {where} knows, but their id {ident!r} is {found_by_id.login}")
    if found_by_id is None:
        also = f"but their email {email} is {found_by_email.login}" if found_by_email is not None else "and the ticket gives no email"
        raise Unbound(MISMATCH, f"the requester's id {ident!r} is no one {where} knows, {also}")
    if found_by_email is not None and found_by_email.id != found_by_id.id:
        raise Unbound(MISMATCH, f"the requester's id {ident!r} is {found_by_id.login} in {where}, but their email {email} is {found_by_email.login}: two different people")
    return Person(found_by_id.id, found_by_id.login, found_by_id.email)


def not_the_requester(actor: Actor, requester: Requester, person: Person | None) -> str | None:
    """Why an answer written by ``actor`` does not count for a question asked of ``requester`` (who
    the directory resolved as ``person``; None for a request asked before requesters were resolved),
    or None when it is the requester's own answer."""
    names = person.names if person is not None else frozenset({(requester.email or "").lower()}) - {""}
    if actor.kind is ActorKind.human and actor.id.lower() in names | {requester.id.lower()}:
        return None
    return f"the answer came from {actor}, not from the requester human:{requester.id} the question was asked of; it was not applied and the request keeps waiting"


# --- asking the directory ----------------------------------------------------------------------------


async def _find(directory: Okta, ref: str) -> User | None:
    try:
        return await directory.get_user(ref)
    except ApiError as exc:
        if exc.transient:
            raise
        if exc.status == 404:
            return None
        raise Unbound(UNVERIFIABLE, f"the directory ({DIRECTORY}) refused to look the requester up for the skills service: {exc.summary} ({exc.code})") from None


async def resolve(directory: Okta, requester: Requester, *, attempts: int = 3, backoff_s: float = 0.2) -> Person:
    """The one person the directory knows the requester as (see ``bind``); an outage is retried with
    backoff, then the requester is ``UNVERIFIABLE``."""
    ident, email = requester.id.strip(), (requester.email or "").strip().lower()
    last = ""
    for attempt in range(1, attempts + 1):
        try:
            by_email = await _find(directory, email) if email else None
            by_id = by_email if (by_email is not None and ident.lower() == email) else await _find(directory, ident)
            return bind(requester, by_id, by_email)
        except ApiError as exc:
            last = f"{exc.status} {exc.code}: {exc.summary}"
        if attempt < attempts:
            await asyncio.sleep(backoff_s * 2 ** (attempt - 1))
    raise Unbound(UNVERIFIABLE, f"the directory ({DIRECTORY}) did not answer who the requester is: {last} (gave up after {attempts} attempts)")


async def reader_credential(pool: asyncpg.Pool, vault: Vault, issuer: Issuer | None) -> str | None:
    """The skills service's own credential on the directory: the one kept (``credentials.store(pool,
    vault, READER, DIRECTORY, READER_VERSION, token)``, as a real directory's administrator issues it),
    else one the configured issuer issues (once). Without it, requesters cannot be looked up and
    every request goes to a person. The issuer is called outside any transaction."""
    async with _reader_lock:
        sealed = await pool.fetchval(
            "SELECT ciphertext FROM credentials WHERE coworker = $1 AND system = $2 AND version = $3 AND revoked_at IS NULL", READER, DIRECTORY, READER_VERSION
        )
        if vault.opens(sealed):
            return vault.open(sealed)
        if issuer is None:
            return None
        await issuer.revoke(READER, system=DIRECTORY)  # one that no longer opens with the key
        token = await issuer.issue(DIRECTORY, READER, READER_VERSION, READER_SCOPES)
        if token is None:
            return None
        await store(pool, vault, READER, DIRECTORY, READER_VERSION, token)
        return token


_reader_lock = asyncio.Lock()
