"""Helpers of the vendor contract tests: a fixture recorded from a vendor's documentation, a tiny
server answering with fixtures, and the check that an answer has a fixture's keys and JSON types."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from aiohttp import web

FIXTURES = Path(__file__).parents[1] / "fixtures" / "vendors"


def fixture(vendor: str, name: str) -> Any:
    return json.loads((FIXTURES / vendor / f"{name}.json").read_text())


def _kind(value: Any) -> str:
    return "number" if isinstance(value, int | float) and not isinstance(value, bool) else type(value).__name__


def missing(documented: Any, answered: Any, path: str = "$") -> list[str]:
    """Where ``answered`` lacks a key of ``documented`` or holds another JSON type (a documented
    null fits anything; a list is checked by its first item)."""
    if documented is None:
        return []
    if _kind(documented) != _kind(answered):
        return [f"{path}: documented {_kind(documented)}, answered {_kind(answered)}"]
    if isinstance(documented, dict):
        return [m for key, value in documented.items() for m in (missing(value, answered[key], f"{path}.{key}") if key in answered else [f"{path}.{key}: missing"])]
    if isinstance(documented, list) and documented:
        return missing(documented[0], answered[0], f"{path}[0]") if answered else [f"{path}: documented items, answered none"]
    return []


@asynccontextmanager
async def serving(routes: list[tuple[str, str, int, Any]]) -> AsyncIterator[str]:
    """A server answering ``(method, path pattern, status, body)`` routes (None: no body); its URL."""

    async def answer(request: web.Request) -> web.Response:
        for method, pattern, status, body in routes:
            if method == request.method and re.fullmatch(pattern, request.path):
                return web.Response(status=status) if body is None else web.json_response(body, status=status)
        return web.json_response({"error": {"code": "itemNotFound", "message": f"no fixture for {request.method} {request.path}"}}, status=404)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", answer)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()
