"""Comparing a served JSON body with a documented one, for the contract tests of the APIs we
define ourselves (payroll, facilities): the documented example is the whole shape, so a key missing
or a key extra is a difference, and so is a value of another JSON type (a null on either side
stands for any type: the field is nullable). A ``maps`` key holds names of the vendor's choosing
(``{"Medicare": "126.88"}``): only its values' type is compared."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from aiohttp import web

VENDORS = Path(__file__).parent / "fixtures" / "vendors"


def documented(vendor: str, name: str) -> Any:
    return json.loads((VENDORS / vendor / f"{name}.json").read_text())


def differences(served: Any, theirs: Any, where: str = "$", *, maps: frozenset[str] = frozenset()) -> list[str]:
    if served is None or theirs is None:
        return []
    if isinstance(theirs, dict) and where.rsplit(".", 1)[-1] in maps:
        if not isinstance(served, dict):
            return [f"{where}: documented as an object, served {type(served).__name__}"]
        sample = next(iter(theirs.values()), None)
        return [d for k, v in served.items() for d in differences(v, sample, f"{where}[{k!r}]")]
    if isinstance(theirs, dict):
        if not isinstance(served, dict):
            return [f"{where}: documented as an object, served {type(served).__name__}"]
        found = [f"{where}.{k}: missing" for k in sorted(theirs.keys() - served.keys())]
        found += [f"{where}.{k}: not documented" for k in sorted(served.keys() - theirs.keys())]
        return found + [d for k in sorted(theirs.keys() & served.keys()) for d in differences(served[k], theirs[k], f"{where}.{k}", maps=maps)]
    if isinstance(theirs, list):
        if not isinstance(served, list):
            return [f"{where}: documented as an array, served {type(served).__name__}"]
        return [d for n, item in enumerate(served) if theirs for d in differences(item, theirs[0], f"{where}[{n}]", maps=maps)]
    if type(served) is not type(theirs):
        return [f"{where}: documented as {type(theirs).__name__}, served {type(served).__name__} ({served!r})"]
    return []


@asynccontextmanager
async def serving(app: web.Application) -> AsyncIterator[str]:
    """``app`` (a fake vendor answering with documented bodies) on a loopback port: its base URL."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()
