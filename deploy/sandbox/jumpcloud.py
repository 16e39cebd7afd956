"""A JumpCloud-like device directory in PostgreSQL: system users, the systems bound to them, what
System Insights collected from each agent, and commands run on a device with their results.

Every call carries the calling coworker's own API key and the sandbox refuses (401 ``Unauthorized``,
403 ``Forbidden``) a revoked key or a scope the key does not carry, as JumpCloud does with an admin
key of the wrong role. A command does to the device what it would really do: killing a process
frees its memory (unless its supervisor starts it again), clearing caches frees only what the caches
held, a reboot resets uptime and leaked memory, a repair fixes a corrupt cache but not an app that
is incompatible with the OS; a command to an offline agent waits in JumpCloud's queue, unanswered.
The same idempotency key never runs a command twice.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import uuid
from typing import Any

import asyncpg

from services.skills.connectors import jumpcloud as api
from services.skills.connectors.jumpcloud import App, CommandResult, Health, JumpCloudError, Process, System
from deploy.sandbox import tokens
from deploy.sandbox.tokens import Caller, SandboxConnector

SYSTEM = "jumpcloud"


async def authenticate(conn: asyncpg.Connection, token: str | None) -> Caller:
    caller = await tokens.authenticate(conn, SYSTEM, token)
    if caller is None:
        raise JumpCloudError(401, "Unauthorized: the x-api-key header is missing, revoked or not valid")
    return caller


def _require(caller: Caller, scope: str) -> None:
    if not caller.may(scope):
        raise JumpCloudError(403, f"Forbidden: {caller.coworker}'s API key does not carry {scope}")


def object_id(*parts: str) -> str:
    """A 24-hex id like JumpCloud's, the same for the same parts."""
    return hashlib.sha256(":".join(parts).encode()).hexdigest()[:24]


# --- the API ---------------------------------------------------------------------------------


async def systems_of(conn: asyncpg.Connection, caller: Caller, email: str) -> list[System]:
    """The systems bound to the system user with ``email`` (404 when there is no such user)."""
    _require(caller, "devices.read")
    user = await conn.fetchval("SELECT id FROM jumpcloud_users WHERE email = lower($1)", email)
    if user is None:
        raise JumpCloudError(404, f"Not Found: no system user with email {email}")
    rows = await conn.fetch(
        "SELECT s.id, s.hostname, s.display_name, s.os, s.os_version, s.agent_version, s.active, s.last_contact, s.fde_active"
        " FROM jumpcloud_systems s JOIN jumpcloud_system_users su ON su.system_id = s.id WHERE su.user_id = $1 ORDER BY s.hostname",
        user,
    )
    return [System(**dict(r)) for r in rows]


async def health(conn: asyncpg.Connection, caller: Caller, system_id: str) -> Health:
    _require(caller, "devices.read")
    row = await conn.fetchrow("SELECT i.*, s.fde_active FROM jumpcloud_insights i JOIN jumpcloud_systems s ON s.id = i.system_id WHERE i.system_id = $1", system_id)
    if row is None:
        raise JumpCloudError(404, f"Not Found: system {system_id}")
    return _health(dict(row))


async def run_command(conn: asyncpg.Connection, caller: Caller, system_id: str, action: str, target: str | None, *, idempotency_key: str, ticket_id: str) -> CommandResult:
    """Run ``action`` on the system now (or queue it for an offline agent); once per idempotency key."""
    _require(caller, "devices.run_command")
    earlier = await conn.fetchrow("SELECT * FROM jumpcloud_commands WHERE idempotency_key = $1", idempotency_key)
    if earlier is not None:
        return _result(dict(earlier))
    system = await conn.fetchrow("SELECT os, active FROM jumpcloud_systems WHERE id = $1 FOR UPDATE", system_id)
    if system is None:
        raise JumpCloudError(404, f"Not Found: system {system_id}")
    try:
        command = api.script(system["os"], action, target)
    except ValueError as exc:
        raise JumpCloudError(400, f"Bad Request: {exc}") from None
    return await _execute(conn, caller, system_id, dict(system), action, target, command, name=f"{action} for {ticket_id}", idempotency_key=idempotency_key, ticket_id=ticket_id)


async def _execute(conn: asyncpg.Connection, caller: Caller, system_id: str, system: dict[str, Any], action: str, target: str | None, command: str, *, name: str, idempotency_key: str, ticket_id: str) -> CommandResult:
    """What the agent does with ``command``: act on the device now if it is connected, else wait queued."""
    command_id = object_id("command", idempotency_key)
    exit_code: int | None = None
    output = ""
    if system["active"]:
        row = await conn.fetchrow("SELECT * FROM jumpcloud_insights WHERE system_id = $1 FOR UPDATE", system_id)
        if action in EFFECTS and row is not None:
            state = _state(dict(row))
            exit_code, output = EFFECTS[action](state, target, system["os"])
            await _save(conn, system_id, state)
        else:  # a script the simulator does not model: it runs and changes nothing it can see
            exit_code = 0
    await conn.execute(
        "INSERT INTO jumpcloud_commands (id, name, command, command_type, system_id, action, target, idempotency_key, requested_by, ticket_id, response_time, exit_code, output)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, CASE WHEN $11 THEN now() END, $12, $13)",
        command_id,
        name,
        command,
        "mac" if system["os"] == "Mac OS X" else "windows",
        system_id,
        action,
        target,
        idempotency_key,
        caller.coworker,
        ticket_id,
        system["active"],
        exit_code,
        output,
    )
    return _result(dict(await conn.fetchrow("SELECT * FROM jumpcloud_commands WHERE id = $1", command_id)))


# --- the API's records, as JumpCloud's REST API reads and writes them (deploy/sandbox/api) --------


async def find_user(conn: asyncpg.Connection, caller: Caller, email: str) -> dict[str, Any] | None:
    """The system user with ``email`` (JumpCloud matches ``email:$eq:`` exactly; emails are stored lower-case)."""
    _require(caller, "devices.read")
    row = await conn.fetchrow("SELECT * FROM jumpcloud_users WHERE email = $1", email)
    return dict(row) if row else None


async def systems_bound_to(conn: asyncpg.Connection, caller: Caller, user_id: str) -> list[str]:
    """The ids of the systems bound to a system user (404 for an unknown user, as the graph answers)."""
    _require(caller, "devices.read")
    if await conn.fetchval("SELECT 1 FROM jumpcloud_users WHERE id = $1", user_id) is None:
        raise JumpCloudError(404, f"Not Found: no user {user_id}")
    return [r["system_id"] for r in await conn.fetch("SELECT system_id FROM jumpcloud_system_users WHERE user_id = $1 ORDER BY system_id", user_id)]


async def system_record(conn: asyncpg.Connection, caller: Caller, system_id: str) -> dict[str, Any]:
    _require(caller, "devices.read")
    row = await conn.fetchrow("SELECT * FROM jumpcloud_systems WHERE id = $1", system_id)
    if row is None:
        raise JumpCloudError(404, f"Not Found: system {system_id}")
    return dict(row)


async def insights(conn: asyncpg.Connection, caller: Caller, system_id: str) -> dict[str, Any] | None:
    """What System Insights last collected from the system's agent (None when it collected nothing)."""
    _require(caller, "devices.read")
    row = await conn.fetchrow("SELECT i.*, s.os FROM jumpcloud_insights i JOIN jumpcloud_systems s ON s.id = i.system_id WHERE i.system_id = $1", system_id)
    return _state(dict(row)) if row else None


async def save_command(conn: asyncpg.Connection, caller: Caller, *, name: str, command: str, command_type: str, launch_type: str, user: str | None, timeout: str, shell: str | None) -> dict[str, Any]:
    """A saved command (``POST /api/commands``): it runs nowhere until it is run on systems."""
    _require(caller, "devices.run_command")
    if command_type not in ("mac", "windows", "linux"):
        raise JumpCloudError(400, f"Bad Request: commandType must be one of linux, mac, windows (got {command_type!r})")
    if command_type != "windows" and not user:
        raise JumpCloudError(400, "Bad Request: user is required for a mac or linux command")
    command_id = object_id("saved-command", secrets.token_hex(12))
    row = await conn.fetchrow(
        "INSERT INTO jumpcloud_saved_commands (id, name, command, command_type, launch_type, run_as, timeout, shell, created_by)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING *",
        command_id, name, command, command_type, launch_type, user, timeout, shell, caller.coworker,
    )
    return dict(row)


async def saved_commands(conn: asyncpg.Connection, caller: Caller, *, name: str | None = None, command_id: str | None = None) -> list[dict[str, Any]]:
    _require(caller, "devices.read")
    rows = await conn.fetch(
        "SELECT * FROM jumpcloud_saved_commands WHERE ($1::text IS NULL OR name = $1) AND ($2::text IS NULL OR id = $2) ORDER BY created, id", name, command_id
    )
    return [dict(r) for r in rows]


async def run_saved(conn: asyncpg.Connection, caller: Caller, command_id: str, system_ids: list[str], *, ticket_id: str = "") -> list[str]:
    """Run a saved command on systems (``POST /api/runCommand``): the agent runs the script each time it
    is asked; the ids of the runs (JumpCloud's queue ids)."""
    _require(caller, "devices.run_command")
    saved = await conn.fetchrow("SELECT * FROM jumpcloud_saved_commands WHERE id = $1", command_id)
    if saved is None:
        raise JumpCloudError(404, f"Not Found: command {command_id}")
    runs = []
    for system_id in system_ids:
        system = await conn.fetchrow("SELECT os, active FROM jumpcloud_systems WHERE id = $1 FOR UPDATE", system_id)
        if system is None:
            raise JumpCloudError(404, f"Not Found: system {system_id}")
        if saved["command_type"] != ("mac" if system["os"] == "Mac OS X" else "windows"):
            raise JumpCloudError(400, f"Bad Request: a {saved['command_type']} command cannot run on {system['os']} system {system_id}")
        action, target = parse_script(system["os"], saved["command"]) or ("script", None)
        done = await _execute(conn, caller, system_id, dict(system), action, target, saved["command"], name=saved["name"], idempotency_key=uuid.uuid4().hex, ticket_id=ticket_id)
        runs.append(done.id)
    return runs


async def runs_of(conn: asyncpg.Connection, caller: Caller, *, name: str | None = None, run_id: str | None = None, answered: bool | None = None) -> list[dict[str, Any]]:
    """Runs of commands (answered: command results; unanswered: still queued for an offline agent)."""
    _require(caller, "devices.read")
    rows = await conn.fetch(
        "SELECT c.*, s.hostname, s.display_name FROM jumpcloud_commands c JOIN jumpcloud_systems s ON s.id = c.system_id"
        " WHERE ($1::text IS NULL OR c.name = $1) AND ($2::text IS NULL OR c.id = $2) AND ($3::boolean IS NULL OR (c.response_time IS NOT NULL) = $3)"
        " ORDER BY c.request_time, c.id",
        name, run_id, answered,
    )
    return [dict(r) for r in rows]


_SLOT = "Zq9slot9qZ"  # a name ``api.script`` accepts, and no real app is called


def parse_script(os: str, command: str) -> tuple[str, str | None] | None:
    """Which named action (and on what) a script is, as ``api.script`` writes it; None for any other script."""
    for action in sorted(api.ACTIONS):
        if action not in api.TARGETED:
            if command == api.script(os, action, None):
                return action, None
            continue
        template = re.escape(api.script(os, action, _SLOT))
        pattern = template.replace(_SLOT, "(?P<t>[^\"]+)", 1).replace(_SLOT, "(?P=t)")
        if (match := re.fullmatch(pattern, command)) and api.SAFE_TARGET.match(match["t"]):
            return action, match["t"]
    return None


class JumpCloudSandbox(SandboxConnector):
    """The JumpCloud connector over the sandbox, in the step's transaction, as the coworker its key names."""

    authenticate = staticmethod(authenticate)

    async def systems_of(self, email: str) -> list[System]:
        return await systems_of(self.conn, await self.caller(), email)

    async def health(self, system_id: str) -> Health:
        return await health(self.conn, await self.caller(), system_id)

    async def run_command(self, system_id: str, action: str, target: str | None, *, idempotency_key: str, ticket_id: str) -> CommandResult:
        return await run_command(self.conn, await self.caller(), system_id, action, target, idempotency_key=idempotency_key, ticket_id=ticket_id)


# --- what commands do to a device ------------------------------------------------------------

#: Memory the OS itself uses right after a boot, as a share of the total.
BOOT_MEMORY_PCT = 28.0
BOOT_CPU_PCT = 4.0


def _state(row: dict[str, Any]) -> dict[str, Any]:
    row["processes"] = json.loads(row["processes"])
    row["apps"] = json.loads(row["apps"])
    row["pending_patches"] = list(row["pending_patches"])
    return row


async def _save(conn: asyncpg.Connection, system_id: str, s: dict[str, Any]) -> None:
    await conn.execute(
        "UPDATE jumpcloud_insights SET collected_at = now(), cpu_load_pct = $2, memory_used_pct = $3, disk_free_gb = $4, cache_gb = $5,"
        " uptime_days = $6, pending_patches = $7, processes = $8::jsonb, apps = $9::jsonb WHERE system_id = $1",
        system_id,
        round(min(100.0, max(1.0, s["cpu_load_pct"])), 1),
        round(min(100.0, max(5.0, s["memory_used_pct"])), 1),
        round(s["disk_free_gb"], 1),
        round(s["cache_gb"], 1),
        s["uptime_days"],
        s["pending_patches"],
        json.dumps(s["processes"]),
        json.dumps(s["apps"]),
    )
    await conn.execute("UPDATE jumpcloud_systems SET last_contact = now() WHERE id = $1", system_id)


def _find(items: list[dict[str, Any]], name: str | None) -> dict[str, Any] | None:
    return next((i for i in items if name is not None and i["name"].lower() == name.lower()), None)


def _share(s: dict[str, Any], memory_mb: float) -> float:
    return 100.0 * memory_mb / (s["memory_total_gb"] * 1024)


def _stop(s: dict[str, Any], process: dict[str, Any]) -> None:
    s["processes"].remove(process)
    s["memory_used_pct"] -= _share(s, process["memory_mb"])
    s["cpu_load_pct"] -= process["cpu_pct"]


def _start(s: dict[str, Any], name: str, memory_mb: int, cpu_pct: float, *, respawns: bool = False) -> None:
    pid = max((p["pid"] for p in s["processes"]), default=400) + 17
    s["processes"].append({"name": name, "pid": pid, "cpu_pct": cpu_pct, "memory_mb": memory_mb, "respawns": respawns, "normal_mb": memory_mb, "normal_cpu": cpu_pct})
    s["memory_used_pct"] += _share(s, memory_mb)
    s["cpu_load_pct"] += cpu_pct


def _not_found(os: str, what: str, kind: str) -> tuple[int, str]:
    if os == "Mac OS X":
        return 1, f"Unable to find application named '{what}'" if kind == "app" else ""
    return 1, f'Stop-Process : Cannot find a process with the name "{what}". Verify the process name and call the cmdlet again.'


def _kill(s: dict[str, Any], target: str | None, os: str) -> tuple[int, str]:
    process = _find(s["processes"], target)
    if process is None:
        return _not_found(os, str(target), "process")
    _stop(s, process)
    if process["respawns"]:  # its supervisor (launchd KeepAlive, a Windows service) starts it again, as it was
        _start(s, process["name"], process["memory_mb"], process["cpu_pct"], respawns=True)
    elif (app := _find(s["apps"], process["name"])) is not None:
        app["state"] = "not_running"
    return 0, ""


def _relaunch(s: dict[str, Any], target: str | None, os: str, *, repair: bool) -> tuple[int, str]:
    app = _find(s["apps"], target)
    if app is None:
        return _not_found(os, str(target), "app")
    if (process := _find(s["processes"], app["name"])) is not None:
        _stop(s, process)
    fixed = app["fault"] in (None, "hung") or (repair and app["fault"] == "corrupt_cache")
    if not fixed:  # it crashes again on launch
        app["state"], app["crashes_7d"] = "crashed", app["crashes_7d"] + 1
        return 0, f"{app['name']} relaunched and exited unexpectedly"
    if repair and app["fault"] == "corrupt_cache":
        s["cache_gb"] = max(0.0, s["cache_gb"] - 0.4)
        s["disk_free_gb"] += 0.4
    app["state"], app["fault"] = "running", None
    _start(s, app["name"], app["normal_mb"], 2.0)
    return 0, f"{app['name']} {'repaired and ' if repair else ''}relaunched"


def _clear_cache(s: dict[str, Any], target: str | None, os: str) -> tuple[int, str]:
    freed = max(0.0, s["cache_gb"] - 0.3)  # what is in use stays
    s["disk_free_gb"] += freed
    s["cache_gb"] -= freed
    return 0, f"Freed {freed:.1f} GB of caches and temporary files"


def _reboot(s: dict[str, Any], target: str | None, os: str) -> tuple[int, str]:
    """After a restart leaked memory is free again and hung apps are closed; a broken service starts broken again."""
    s["uptime_days"] = 0.0
    kept = []
    for p in s["processes"]:
        app = _find(s["apps"], p["name"])
        if not p["respawns"] and app is not None and app["state"] == "hung":
            app["state"] = "not_running"
            continue
        if not p["respawns"]:
            p["memory_mb"], p["cpu_pct"] = p["normal_mb"], p["normal_cpu"]
        kept.append(p)
    s["processes"] = kept
    s["memory_used_pct"] = BOOT_MEMORY_PCT + sum(_share(s, p["memory_mb"]) for p in kept)
    s["cpu_load_pct"] = BOOT_CPU_PCT + sum(p["cpu_pct"] for p in kept)
    return 0, "Restart scheduled in 1 minute" if os == "Mac OS X" else "Restart scheduled in 60 seconds"


def _install_patches(s: dict[str, Any], target: str | None, os: str) -> tuple[int, str]:
    installed = s["pending_patches"]
    if not installed:
        return 0, "No updates are available." if os == "Mac OS X" else "No updates found."
    s["pending_patches"] = []
    _reboot(s, None, os)
    return 0, "Installed: " + "; ".join(installed) + ". Restarting."


EFFECTS = {
    "kill_process": _kill,
    "restart_app": lambda s, t, os: _relaunch(s, t, os, repair=False),
    "repair_app": lambda s, t, os: _relaunch(s, t, os, repair=True),
    "clear_cache": _clear_cache,
    "reboot": _reboot,
    "install_patches": _install_patches,
}


def _health(row: dict[str, Any]) -> Health:
    processes = sorted(json.loads(row["processes"]), key=lambda p: (-p["cpu_pct"], -p["memory_mb"]))
    return Health(
        system_id=row["system_id"],
        collected_at=row["collected_at"],
        cpu_load_pct=row["cpu_load_pct"],
        memory_total_gb=row["memory_total_gb"],
        memory_used_pct=row["memory_used_pct"],
        disk_total_gb=row["disk_total_gb"],
        disk_free_gb=row["disk_free_gb"],
        cache_gb=row["cache_gb"],
        battery_health_pct=row["battery_health_pct"],
        battery_cycles=row["battery_cycles"],
        uptime_days=row["uptime_days"],
        pending_patches=tuple(row["pending_patches"]),
        processes=tuple(Process(p["name"], p["pid"], p["cpu_pct"], p["memory_mb"]) for p in processes),
        apps=tuple(App(a["name"], a["version"], a["state"], a["crashes_7d"]) for a in json.loads(row["apps"])),
        fde_active=row["fde_active"],
    )


def _result(row: dict[str, Any]) -> CommandResult:
    answered = row["response_time"] is not None
    return CommandResult(
        id=row["id"],
        system_id=row["system_id"],
        action=row["action"],
        target=row["target"],
        command=row["command"],
        status="finished" if answered else "pending",
        exit_code=row["exit_code"],
        output=row["output"],
    )

