"""The one shape every webhook parser returns: what an upstream ticketing system told us, in our
words, before it is mapped to an event. Parsers fill it from each vendor's payload; ``events.py``
maps it; nothing in here knows a vendor."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

System = Literal["jira", "servicenow", "zendesk"]
M = TypeVar("M", bound=BaseModel)
Kind = Literal["created", "comment", "ignored"]


class Malformed(Exception):
    """The body is not a JSON object in UTF-8 (HTTP 400, dead-lettered as ``not_json``)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Unprocessable(Exception):
    """Valid JSON that is not the documented payload, e.g. no ``issue.key`` (HTTP 422, dead-lettered as
    ``schema``)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _as_str(value: Any) -> Any:
    """Vendors send ids as numbers or strings (Zendesk does both): we keep them as strings."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return str(value)
    return value


#: A vendor's id of something (ticket, user, comment), as a string.
VendorId = Annotated[str, BeforeValidator(_as_str), Field(min_length=1, max_length=200, pattern=r"^\S+$")]


class Loose(BaseModel):
    """A vendor payload: fields we do not use are allowed (vendors add fields); those we use are typed."""

    model_config = ConfigDict(extra="allow", frozen=True, populate_by_name=True)


class Person(BaseModel):
    model_config = ConfigDict(frozen=True)

    user_id: str | None = None
    email: str | None = None
    name: str | None = None


class Comment(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    author: Person
    text: str = ""
    public: bool = True
    #: The vendor says the author is an agent (Zendesk ``is_staff``): never a requester's answer.
    staff: bool = False


class Inbound(BaseModel):
    """A ticket created, a comment added, or something we do not take in, from one system."""

    model_config = ConfigDict(frozen=True)

    system: System
    kind: Kind
    #: The vendor's own name of what happened (``jira:issue_created``, ``insert``, ...).
    event: str
    native_id: str | None = None  # Jira issue id / ServiceNow sys_id / Zendesk ticket id
    key: str | None = None  # the human reference: Jira key, ServiceNow number, "ZD-<id>"
    delivery_id: str | None = None
    title: str = ""
    description: str = ""
    requester: Person = Person()
    priority: str | None = None
    labels: list[str] = []
    project: str | None = None
    assignment_group: str | None = None
    category: str | None = None
    brand: str | None = None
    channel: Literal["portal", "email", "chat", "phone", "api"] = "portal"
    opened_at: datetime | None = None
    comment: Comment | None = None

    @property
    def ticket_id(self) -> str | None:
        return self.key

    @property
    def upstream(self) -> str:
        return f"{self.system}:{self.native_id}"


def load_object(body: bytes) -> dict[str, Any]:
    """The body as a JSON object, or ``Malformed`` saying why not."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Malformed(f"the body is not UTF-8 (invalid byte at position {exc.start})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise Malformed(f"the body is not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except RecursionError:
        raise Malformed("the body is not JSON we can read: nested too deeply") from None
    if not isinstance(data, dict):
        raise Malformed(f"the body is JSON but not an object (it is a {type(data).__name__})")
    try:  # "\ud800" is valid JSON but no text: refuse it here, once
        json.dumps(data, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise Unprocessable("the payload contains invalid Unicode (a lone surrogate such as \\ud800)") from None
    return data


def validated(model: type[M], data: dict[str, Any], what: str) -> M:
    """``data`` as ``model``, or ``Unprocessable`` naming each wrong field and what is wrong."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or '(body)'}: {e['msg']}" for e in exc.errors()[:10])
        raise Unprocessable(f"not a {what} payload: {problems}") from None


def header(headers: Any, name: str) -> str | None:
    """A header by name, whatever the case (a plain dict in tests, Starlette's Headers in the app)."""
    value = headers.get(name)
    if value is None:
        lowered = name.lower()
        value = next((v for k, v in headers.items() if k.lower() == lowered), None)
    return value
