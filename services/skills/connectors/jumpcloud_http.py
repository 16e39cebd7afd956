"""The JumpCloud connector over JumpCloud's REST API (v1 ``/api``, v2 ``/api/v2``), the same class for
the simulator (``deploy/sandbox/api/jumpcloud.py``) and a real JumpCloud org.

- A person's devices: ``GET /api/systemusers?filter=email:$eq:<email>``, then the graph's
  ``GET /api/v2/users/{id}/systems``, then ``GET /api/systems/{id}`` for each.
- A device's health: the system record (OS, FDE) and System Insights tables
  (``GET /api/v2/systeminsights/<table>?filter=system_id:eq:<id>``): ``system_info`` (memory,
  collection time), ``uptime``, ``battery``, ``mounts``/``logical_drives`` (disk), ``apps``/``programs``.
  JumpCloud publishes no table for live load (processes, CPU, memory in use, purgeable caches,
  pending updates, an app's run state); the simulator serves them as ``processes`` and
  ``performance`` (and ``state``/``crashes_7d`` on app rows). Against a real org those read empty,
  and the health reads zero load, no processes and apps of unknown state: reading them there needs a
  diagnostics command, which is not built yet.
- A remote fix: a saved command (``POST /api/commands``) run on the device
  (``POST /api/runCommand`` ``{"_id", "systemIds"}``); its answer is in ``GET /api/commands/{id}/results``,
  or it waits in ``GET /api/v2/queuedcommand/workflows`` while the agent is offline.

The credential is an API key sent as ``x-api-key`` (and an ``x-org-id`` for a multi-tenant admin).
JumpCloud's errors (``{"code", "message", "status"}`` or ``{"error": ...}``) become ``JumpCloudError``s;
429 and 5xx are transient (``Retry-After`` honoured by the runner).

JumpCloud takes no idempotency key and runs a command each time it is asked, so the command carries
the key instead: its name ends with a marker derived from the idempotency key. Before creating,
the connector looks the name up (``GET /api/commands?filter=name:$eq:...``); found, it returns the run's
result, or its queued run, and only if the command was saved but never run (a crash between the two
calls) does it run it - once. A retry therefore finds the earlier run instead of rebooting twice.
"""

from __future__ import annotations

import asyncio
import hashlib
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import httpx
from aiolimiter import AsyncLimiter

from runtime.vendor.http import VendorHttp
from services.skills.connectors.jumpcloud import App, CommandResult, Health, JumpCloudError, Process, System, script

GB = 1024**3
ROOT = "000000000000000000000000"  # JumpCloud's id for "run as root" on macOS and Linux
#: How long a fix may run on a device, in seconds (JumpCloud's ``timeout``).
TIMEOUT = "600"


def marker(idempotency_key: str) -> str:
    """The tag in a command's name that says which idempotency key made it."""
    return "wf-" + hashlib.sha256(idempotency_key.encode()).hexdigest()[:20]


def command_name(action: str, target: str | None, ticket_id: str, idempotency_key: str) -> str:
    what = f"{action} {target}" if target else action
    return f"{what} for {ticket_id} [{marker(idempotency_key)}]"


def _when(value: str | None) -> datetime:
    if not value:
        return datetime.fromtimestamp(0, UTC)
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def system_from(body: dict[str, Any]) -> System:
    return System(
        id=body["_id"], hostname=body.get("hostname", ""), display_name=body.get("displayName", ""), os=body.get("os", ""),
        os_version=body.get("version", ""), agent_version=body.get("agentVersion", ""), active=bool(body.get("active")),
        last_contact=_when(body.get("lastContact")), fde_active=bool((body.get("fde") or {}).get("active")),
    )


def health_from(system: System, tables: dict[str, list[dict[str, Any]]]) -> Health:
    """A device's health from its System Insights rows (absent tables read as nothing collected)."""
    info = (tables.get("system_info") or [{}])[0]
    perf = (tables.get("performance") or [{}])[0]
    uptime = (tables.get("uptime") or [{}])[0]
    battery = (tables.get("battery") or [None])[0]
    if system.os == "Mac OS X":
        mount = next((m for m in tables.get("mounts") or [] if m.get("path") == "/"), {})
        size = int(mount.get("blocks_size") or 0)
        total, free = int(mount.get("blocks") or 0) * size, int(mount.get("blocks_available") or 0) * size
        apps = [App(a.get("bundle_name") or a.get("name", "").removesuffix(".app"), a.get("bundle_short_version", ""), a.get("state") or "unknown", int(a.get("crashes_7d") or 0)) for a in tables.get("apps") or []]
    else:
        drive = next((d for d in tables.get("logical_drives") or [] if d.get("device_id") == "C:"), {})
        total, free = int(drive.get("size") or 0), int(drive.get("free_space") or 0)
        apps = [App(p.get("name", ""), p.get("version", ""), p.get("state") or "unknown", int(p.get("crashes_7d") or 0)) for p in tables.get("programs") or []]
    processes = sorted(
        (Process(p["name"], int(p["pid"]), float(p.get("cpu_percent") or 0.0), int(int(p.get("resident_size") or 0) / (1024 * 1024))) for p in tables.get("processes") or []),
        key=lambda p: (-p.cpu_pct, -p.memory_mb),
    )
    health_pct = None
    if battery and battery.get("designed_capacity"):
        health_pct = round(100 * int(battery.get("max_capacity") or 0) / int(battery["designed_capacity"]), 1)
    return Health(
        system_id=system.id, collected_at=_when(info.get("collection_time")), cpu_load_pct=float(perf.get("cpu_load_percent") or 0.0),
        memory_total_gb=round(int(info.get("physical_memory") or 0) / GB), memory_used_pct=float(perf.get("memory_used_percent") or 0.0),
        disk_total_gb=round(total / GB), disk_free_gb=round(free / GB, 1), cache_gb=round(int(perf.get("purgeable_cache_bytes") or 0) / GB, 1),
        battery_health_pct=health_pct, battery_cycles=None if battery is None else battery.get("cycle_count"),
        uptime_days=round(int(uptime.get("total_seconds") or 0) / 86400, 2), pending_patches=tuple(perf.get("pending_updates") or ()),
        processes=tuple(processes), apps=tuple(apps), fde_active=system.fde_active,
    )


class JumpCloudHttp(VendorHttp):
    """The JumpCloud connector over HTTP, as the coworker whose API key it holds."""

    system = "jumpcloud"

    def __init__(self, base_url: str, credential: str | None, client: httpx.AsyncClient, *, limiter: AsyncLimiter | None = None, ticket: str | None = None, org_id: str | None = None) -> None:
        super().__init__(base_url, credential, client, limiter=limiter, ticket=ticket)
        self.org_id = org_id

    def auth_headers(self) -> dict[str, str]:
        headers = {"x-api-key": self._credential or "", "Accept": "application/json"}
        if self.org_id:
            headers["x-org-id"] = self.org_id
        return headers

    def error_from(self, response: httpx.Response) -> JumpCloudError:
        try:
            body = response.json()
        except ValueError:
            body = {}
        body = body if isinstance(body, dict) else {}
        message = str(body.get("message") or body.get("error") or response.reason_phrase or "error")
        reason = body.get("status") if isinstance(body.get("status"), str) else None
        return JumpCloudError(response.status_code, message[:500], reason=reason or JumpCloudError.REASONS.get(response.status_code) or response.reason_phrase or None)

    async def _get(self, path: str, **params: Any) -> Any:
        return (await self.call("GET", path, params=params or None)).json()

    # --- reads ----------------------------------------------------------------------------------

    async def _system(self, system_id: str) -> System:
        return system_from(await self._get(f"/api/systems/{quote(system_id, safe='')}"))

    async def systems_of(self, email: str) -> list[System]:
        users = (await self._get("/api/systemusers", filter=f"email:$eq:{email.lower()}", limit=1)).get("results") or []
        if not users:
            raise JumpCloudError(404, f"Not Found: no system user with email {email}")
        bound = await self._get(f"/api/v2/users/{quote(users[0]['_id'], safe='')}/systems", limit=100)
        systems = await asyncio.gather(*(self._system(b["id"]) for b in bound if b.get("type") == "system"))
        return sorted(systems, key=lambda s: s.hostname)

    async def health(self, system_id: str) -> Health:
        system = await self._system(system_id)
        mac = system.os == "Mac OS X"
        names = ["system_info", "uptime", "battery", "performance", "processes", "mounts" if mac else "logical_drives", "apps" if mac else "programs"]
        rows = await asyncio.gather(*(self._get(f"/api/v2/systeminsights/{t}", filter=f"system_id:eq:{system_id}", limit=1000) for t in names))
        tables = dict(zip(names, rows, strict=True))
        if not tables["system_info"]:
            raise JumpCloudError(404, f"Not Found: System Insights has collected nothing from system {system_id}")
        return health_from(system, tables)

    # --- the one write ----------------------------------------------------------------------

    async def _answer(self, command_id: str, system_id: str, action: str, target: str | None, command: str) -> CommandResult | None:
        """The run of a saved command on the system: its result, its queued run, or None if never run."""
        for result in await self._get(f"/api/commands/{quote(command_id, safe='')}/results"):
            if result.get("systemId") == system_id:
                data = (result.get("response") or {}).get("data") or {}
                return CommandResult(result["_id"], system_id, action, target, result.get("command", command), "finished", data.get("exitCode"), data.get("output") or "")
        queued = (await self._get("/api/v2/queuedcommand/workflows", filter=f"command:eq:{command_id}", limit=100)).get("results") or []
        waiting = next((q for q in queued if q.get("system") == system_id), None)
        return None if waiting is None else CommandResult(waiting["id"], system_id, action, target, command, "pending", None, "")

    async def run_command(self, system_id: str, action: str, target: str | None, *, idempotency_key: str, ticket_id: str) -> CommandResult:
        system = await self._system(system_id)
        try:
            command = script(system.os, action, target)
        except ValueError as exc:
            raise JumpCloudError(400, f"Bad Request: {exc}") from None
        name = command_name(action, target, ticket_id, idempotency_key)
        saved = (await self._get("/api/commands", filter=f"name:$eq:{name}", limit=10)).get("results") or []
        if saved:
            command_id = saved[0]["_id"]
            if (earlier := await self._answer(command_id, system_id, action, target, command)) is not None:
                return earlier
        else:
            mac = system.os == "Mac OS X"
            body = {"name": name, "command": command, "commandType": "mac" if mac else "windows", "launchType": "manual", "timeout": TIMEOUT}
            body |= {"user": ROOT, "shell": "bash"} if mac else {"shell": "powershell"}
            command_id = (await self.call("POST", "/api/commands", json=body)).json()["_id"]
        await self.call("POST", "/api/runCommand", json={"_id": command_id, "systemIds": [system_id]})
        done = await self._answer(command_id, system_id, action, target, command)
        return done or CommandResult(command_id, system_id, action, target, command, "pending", None, "")
