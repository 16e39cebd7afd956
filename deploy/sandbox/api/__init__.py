"""Each simulated vendor's HTTP API: ``create_app(state)`` per module, mounted under ``/<vendor>`` by
``deploy/sandbox/server.py``. A module translates the vendor's REST shapes to and from the vendor's
state logic (``deploy/sandbox/<vendor>.py``) and answers in the vendor's error bodies."""

from aiohttp import web

from runtime.vendor.http import TICKET_HEADER


def ticket_of(request: web.Request) -> str:
    """The ticket a call says it is made for (kept beside what it did, for tests; never to deduplicate)."""
    return request.headers.get(TICKET_HEADER, "")[:200]
