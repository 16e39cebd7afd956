"""JumpCloud's REST API (v1 ``/api/...`` and v2 ``/api/v2/...``), as much of it as the JumpCloud
connector uses, over the JumpCloud state logic (``deploy/sandbox/jumpcloud.py``), one transaction
per request. Auth is ``x-api-key: <key>`` (``x-org-id`` is accepted and ignored: one org here);
errors are JumpCloud's ``{"code": <status>, "message": ..., "status": <reason>}``.

- ``GET /api/systemusers?filter=email:$eq:<email>``: ``{"totalCount", "results": [systemuser]}``.
- ``GET /api/v2/users/{user_id}/systems``: the graph's ``[{"id", "type": "system", "paths"}]``.
- ``GET /api/systems/{id}``: the system record (``displayName``, ``os``, ``version``, ``agentVersion``,
  ``active``, ``lastContact``, ``fde``...).
- ``GET /api/v2/systeminsights/{table}?filter=system_id:eq:<id>``: System Insights rows, arrays as
  JumpCloud answers them: ``system_info``, ``os_version``, ``uptime``, ``battery``, ``mounts`` (macOS),
  ``logical_drives`` (Windows), ``apps`` (macOS) and ``programs`` (Windows) - the documented tables
  and columns. JumpCloud publishes no table for what an agent sees live (processes, CPU load, memory
  in use, purgeable caches, pending updates, an app's run state and recent crashes); the simulator
  serves them as ``processes`` (osquery's table name: ``pid``, ``name``, ``resident_size`` plus
  ``cpu_percent``), ``performance``, and the extra ``state``/``crashes_7d`` columns on app rows. A
  real org answers those with an empty list; see the connector's docstring.
- ``POST /api/commands`` (a saved command: ``name``, ``command``, ``commandType``, ``user``,
  ``launchType``...), ``GET /api/commands?filter=name:$eq:<name>``, ``GET /api/commands/{id}``,
  ``POST /api/runCommand`` (``{"_id", "systemIds"}`` -> ``{"queueIds": [...]}``: the agent runs the
  script now, or it waits queued for an offline agent), ``GET /api/commands/{id}/results``,
  ``GET /api/commandresults[?filter=name:$eq:<name>]``, ``GET /api/commandresults/{id}`` and
  ``GET /api/v2/queuedcommand/workflows?filter=command:eq:<id>``.

JumpCloud takes no idempotency key, so neither does this: every run of a command acts again (the
state logic gets a fresh key each time). What a client needs to find an earlier run - the saved
command by its name, its results, its queued runs - is readable here as it is at JumpCloud.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from deploy.sandbox.api import ticket_of
from deploy.sandbox import jumpcloud as logic
from deploy.sandbox.jumpcloud import JumpCloudError, JumpCloudSandbox
from deploy.sandbox.tokens import Caller

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
GB = 1024**3
ORG = "5f0c1e2d3a4b5c6d7e8f9a0b"  # the one organization here
ROOT = "000000000000000000000000"  # JumpCloud's id for running a command as root
BLOCK = 4096
#: Design capacity of the simulated batteries (mAh), so a health percentage reads back exactly.
DESIGN_MAH = 5000


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"code": status, "message": message, "status": JumpCloudError.REASONS.get(status, "Error")}, status=status)


def iso(when: datetime | None) -> str | None:
    return None if when is None else when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def v1_filters(request: web.Request) -> dict[str, str]:
    """``filter=<field>:$eq:<value>`` (v1), the only operator the connector sends."""
    found: dict[str, str] = {}
    for item in request.query.getall("filter", []):
        field, _, rest = item.partition(":")
        operator, _, value = rest.partition(":")
        if operator != "$eq":
            raise JumpCloudError(400, f"Bad Request: unsupported filter {item!r} (this simulator reads <field>:$eq:<value>)")
        found[field] = value
    return found


def v2_filters(request: web.Request) -> dict[str, str]:
    """``filter=<field>:eq:<value>`` (v2); several may be given, comma-separated or repeated."""
    found: dict[str, str] = {}
    for item in request.query.getall("filter", []):
        for part in item.split(","):
            field, _, rest = part.strip().partition(":")
            operator, _, value = rest.partition(":")
            if operator != "eq":
                raise JumpCloudError(400, f"Bad Request: unsupported filter {part!r} (this simulator reads <field>:eq:<value>)")
            found[field] = value
    return found


async def _body(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        raise JumpCloudError(400, "Bad Request: the body is not JSON") from None
    if not isinstance(body, dict):
        raise JumpCloudError(400, "Bad Request: the body must be a JSON object")
    return body


# --- shapes --------------------------------------------------------------------------------------


def system_json(row: dict[str, Any]) -> dict[str, Any]:
    mac = row["os"] == "Mac OS X"
    major, _, rest = row["os_version"].partition(".")
    return {
        "_id": row["id"], "organization": ORG, "displayName": row["display_name"], "hostname": row["hostname"],
        "os": row["os"], "osFamily": "darwin" if mac else "windows", "version": row["os_version"], "arch": row["arch"],
        "agentVersion": row["agent_version"], "serialNumber": row["serial_number"], "active": row["active"],
        "lastContact": iso(row["last_contact"]), "created": iso(row["created"]),
        "fde": {"active": row["fde_active"], "keyPresent": row["fde_active"]}, "systemInsights": {"state": "enabled"},
        "osVersionDetail": {"osName": row["os"], "major": major, "minor": rest.partition(".")[0], "patch": rest.partition(".")[2], "releaseName": "", "revision": ""},
        "allowMultiFactorAuthentication": False, "allowPublicKeyAuthentication": False, "allowSshPasswordAuthentication": False,
        "allowSshRootLogin": False, "modifySSHDConfig": False, "tags": [], "remoteIP": "",
    }


def user_json(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "_id": row["id"], "id": row["id"], "organization": ORG, "username": row["username"], "email": row["email"],
        "firstname": row["firstname"], "lastname": row["lastname"], "state": row["state"],
        "activated": row["state"] == "ACTIVATED", "suspended": row["state"] == "SUSPENDED", "account_locked": False,
        "mfa": {"configured": False, "exclusion": False}, "sudo": False,
    }


def saved_json(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "_id": row["id"], "id": row["id"], "organization": ORG, "name": row["name"], "command": row["command"], "commandType": row["command_type"],
        "launchType": row["launch_type"], "user": row["run_as"] or "", "timeout": row["timeout"], "shell": row["shell"] or "",
        "trigger": "", "schedule": "", "scheduleRepeatType": "", "listensTo": "", "sudo": False, "files": [], "commandRunners": [],
    }


def result_json(row: dict[str, Any], workflow: str) -> dict[str, Any]:
    """A command result as ``GET /api/commandresults/{id}`` (and ``/api/commands/{id}/results``) give it."""
    return {
        "_id": row["id"], "organization": ORG, "name": row["name"], "command": row["command"], "system": row["display_name"],
        "systemId": row["system_id"], "user": ROOT, "sudo": False, "files": [], "requestTime": iso(row["request_time"]),
        "responseTime": iso(row["response_time"]), "workflowId": workflow, "workflowInstanceId": row["id"],
        "response": {"id": row["id"], "error": "", "data": {"exitCode": row["exit_code"], "output": row["output"]}},
    }


def result_item_json(row: dict[str, Any], workflow: str) -> dict[str, Any]:
    """A command result as an item of ``GET /api/commandresults`` lists it."""
    full = result_json(row, workflow)
    return {k: full[k] for k in ("_id", "name", "command", "system", "systemId", "user", "sudo", "requestTime", "responseTime", "workflowId")} | {"exitCode": row["exit_code"]}


def insight_tables(s: dict[str, Any], system: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """A system's System Insights rows by table, from what its agent last reported."""
    head = {"system_id": s["system_id"], "collection_time": iso(s["collected_at"])}
    mac = s["os"] == "Mac OS X"
    seconds = int(round(s["uptime_days"] * 86400))
    major, _, rest = system["os_version"].partition(".")
    tables: dict[str, list[dict[str, Any]]] = {
        "system_info": [head | {
            "hostname": system["hostname"], "computer_name": system["display_name"], "physical_memory": str(s["memory_total_gb"] * GB),
            "cpu_brand": "Apple M2" if mac else "Intel(R) Core(TM) i7-1265U", "cpu_logical_cores": 8, "cpu_physical_cores": 8 if mac else 10,
            "hardware_serial": system["serial_number"], "hardware_vendor": "Apple Inc." if mac else "Dell Inc.", "hardware_model": "Mac14,2" if mac else "Latitude 7440",
        }],
        "os_version": [head | {"name": system["os"], "version": system["os_version"], "major": int(major or 0), "minor": int((rest.partition(".")[0]) or 0),
                               "patch": int(rest.partition(".")[2] or 0), "build": "", "platform": "darwin" if mac else "windows", "platform_like": "darwin" if mac else "windows", "codename": "", "install_date": ""}],
        "uptime": [head | {"days": seconds // 86400, "hours": seconds % 86400 // 3600, "minutes": seconds % 3600 // 60, "seconds": seconds % 60, "total_seconds": str(seconds)}],
        "battery": [] if s["battery_health_pct"] is None else [head | {
            "cycle_count": s["battery_cycles"], "designed_capacity": DESIGN_MAH, "max_capacity": int(round(s["battery_health_pct"] * DESIGN_MAH / 100)),
            "health": "Good" if s["battery_health_pct"] >= 80 else "Poor", "condition": "Normal" if s["battery_health_pct"] >= 80 else "Service Battery",
            "percent_remaining": 80, "state": "AC Power", "charging": 0, "charged": 0, "manufacturer": "SMP", "model": "bq40z651", "serial_number": "",
        }],
        "processes": [head | {"pid": p["pid"], "name": p["name"], "resident_size": str(p["memory_mb"] * 1024 * 1024), "cpu_percent": p["cpu_pct"]} for p in s["processes"]],
        "performance": [head | {"cpu_load_percent": s["cpu_load_pct"], "memory_used_percent": s["memory_used_pct"],
                                "purgeable_cache_bytes": str(int(round(s["cache_gb"] * GB))), "pending_updates": list(s["pending_patches"])}],
    }
    total, free = s["disk_total_gb"] * GB, int(round(s["disk_free_gb"] * GB))
    if mac:
        tables["mounts"] = [head | {"path": "/", "device": "/dev/disk3s1s1", "device_alias": "/dev/disk3s1s1", "type": "apfs", "blocks_size": str(BLOCK),
                                    "blocks": str(total // BLOCK), "blocks_available": str(free // BLOCK), "blocks_free": str(free // BLOCK), "flags": "", "inodes": "", "inodes_free": ""}]
        tables["apps"] = [head | {"name": f"{a['name']}.app", "bundle_name": a["name"], "display_name": a["name"], "bundle_executable": a["name"],
                                  "bundle_short_version": a["version"], "bundle_version": a["version"], "path": f"/Applications/{a['name']}.app",
                                  "bundle_identifier": "", "category": "", "last_opened_time": 0.0} | {"state": a["state"], "crashes_7d": a["crashes_7d"]} for a in s["apps"]]
    else:
        tables["logical_drives"] = [head | {"device_id": "C:", "file_system": "NTFS", "type": "Local Disk", "boot_partition": 1, "size": str(total), "free_space": str(free)}]
        tables["programs"] = [head | {"name": a["name"], "version": a["version"], "publisher": "", "install_location": "", "install_source": "", "install_date": "",
                                      "identifying_number": "", "language": "0", "uninstall_string": ""} | {"state": a["state"], "crashes_7d": a["crashes_7d"]} for a in s["apps"]]
    return tables


#: The tables of System Insights served here (the rest of JumpCloud's answer an empty list).
TABLES = ("system_info", "os_version", "uptime", "battery", "mounts", "logical_drives", "apps", "programs", "processes", "performance")


# --- the app -------------------------------------------------------------------------------------


def create_app(state: Any) -> web.Application:
    """JumpCloud's API for the simulator (mounted under ``/jumpcloud``)."""

    @web.middleware
    async def errors(request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            return await handler(request)
        except JumpCloudError as exc:
            return _error(exc.status, exc.summary)

    async def session(request: web.Request, work: Callable[[Any, Caller], Awaitable[Any]]) -> Any:
        async with state.session(JumpCloudSandbox, request.headers.get("x-api-key")) as jc:
            return await work(jc.conn, await jc.caller())

    async def list_systemusers(request: web.Request) -> web.Response:
        wanted = v1_filters(request)
        if set(wanted) - {"email"}:
            raise JumpCloudError(400, "Bad Request: this simulator filters system users by email only")

        async def work(conn: Any, caller: Caller) -> list[dict[str, Any]]:
            if "email" not in wanted:
                logic._require(caller, "devices.read")
                return [dict(r) for r in await conn.fetch("SELECT * FROM jumpcloud_users ORDER BY username LIMIT 100")]
            found = await logic.find_user(conn, caller, wanted["email"])
            return [found] if found else []

        users = await session(request, work)
        return web.json_response({"totalCount": len(users), "results": [user_json(u) for u in users]})

    async def user_systems(request: web.Request) -> web.Response:
        user_id = request.match_info["user_id"]
        ids = await session(request, lambda conn, caller: logic.systems_bound_to(conn, caller, user_id))
        edge = lambda sid: [{"attributes": {}, "to": {"attributes": None, "id": sid, "type": "system"}}]  # noqa: E731
        return web.json_response([{"id": sid, "type": "system", "compiledAttributes": {}, "paths": [edge(sid)]} for sid in ids])

    async def get_system(request: web.Request) -> web.Response:
        row = await session(request, lambda conn, caller: logic.system_record(conn, caller, request.match_info["id"]))
        return web.json_response(system_json(row))

    async def system_insights(request: web.Request) -> web.Response:
        table = request.match_info["table"]
        system_id = v2_filters(request).get("system_id")
        if system_id is None:
            raise JumpCloudError(400, "Bad Request: this simulator answers System Insights per system: filter=system_id:eq:<id>")

        async def work(conn: Any, caller: Caller) -> list[dict[str, Any]]:
            s = await logic.insights(conn, caller, system_id)
            if s is None or table not in TABLES:
                return []
            system = await logic.system_record(conn, caller, system_id)
            return insight_tables(s, system).get(table, [])

        return web.json_response(await session(request, work))

    async def create_command(request: web.Request) -> web.Response:
        body = await _body(request)
        missing = [k for k in ("name", "command", "commandType") if not body.get(k)]
        if missing:
            raise JumpCloudError(400, f"Bad Request: {', '.join(missing)} required")
        saved = await session(request, lambda conn, caller: logic.save_command(
            conn, caller, name=str(body["name"]), command=str(body["command"]), command_type=str(body["commandType"]),
            launch_type=str(body.get("launchType") or "manual"), user=body.get("user"), timeout=str(body.get("timeout") or "120"), shell=body.get("shell")))
        return web.json_response(saved_json(saved))

    async def list_commands(request: web.Request) -> web.Response:
        name = v1_filters(request).get("name")
        rows = await session(request, lambda conn, caller: logic.saved_commands(conn, caller, name=name))
        keys = ("_id", "name", "command", "commandType", "launchType", "trigger", "schedule", "scheduleRepeatType", "listensTo", "organization")
        return web.json_response({"totalCount": len(rows), "results": [{k: saved_json(r)[k] for k in keys} for r in rows]})

    async def one_command(conn: Any, caller: Caller, command_id: str) -> dict[str, Any]:
        rows = await logic.saved_commands(conn, caller, command_id=command_id)
        if not rows:
            raise JumpCloudError(404, f"Not Found: command {command_id}")
        return rows[0]

    async def get_command(request: web.Request) -> web.Response:
        return web.json_response(saved_json(await session(request, lambda conn, caller: one_command(conn, caller, request.match_info["id"]))))

    async def command_results(request: web.Request) -> web.Response:
        async def work(conn: Any, caller: Caller) -> list[dict[str, Any]]:
            saved = await one_command(conn, caller, request.match_info["id"])
            return [result_json(r, saved["id"]) for r in await logic.runs_of(conn, caller, name=saved["name"], answered=True)]

        return web.json_response(await session(request, work))

    async def run_command(request: web.Request) -> web.Response:
        body = await _body(request)
        systems = body.get("systemIds")
        if not body.get("_id") or not isinstance(systems, list) or not systems or not all(isinstance(s, str) for s in systems):
            raise JumpCloudError(400, "Bad Request: _id and systemIds (the systems to run the command on) required")
        queued = await session(request, lambda conn, caller: logic.run_saved(conn, caller, str(body["_id"]), systems, ticket_id=ticket_of(request)))
        return web.json_response({"queueIds": queued})

    async def workflow_of(conn: Any, caller: Caller, name: str) -> str:
        saved = await logic.saved_commands(conn, caller, name=name)
        return saved[0]["id"] if saved else ""

    async def list_results(request: web.Request) -> web.Response:
        name = v1_filters(request).get("name")

        async def work(conn: Any, caller: Caller) -> list[dict[str, Any]]:
            return [result_item_json(r, await workflow_of(conn, caller, r["name"])) for r in await logic.runs_of(conn, caller, name=name, answered=True)]

        results = await session(request, work)
        return web.json_response({"totalCount": len(results), "results": results})

    async def get_result(request: web.Request) -> web.Response:
        async def work(conn: Any, caller: Caller) -> dict[str, Any]:
            rows = await logic.runs_of(conn, caller, run_id=request.match_info["id"], answered=True)
            if not rows:
                raise JumpCloudError(404, f"Not Found: command result {request.match_info['id']}")
            return result_json(rows[0], await workflow_of(conn, caller, rows[0]["name"]))

        return web.json_response(await session(request, work))

    async def queued_workflows(request: web.Request) -> web.Response:
        command_id = v2_filters(request).get("command")

        async def work(conn: Any, caller: Caller) -> list[dict[str, Any]]:
            saved = await logic.saved_commands(conn, caller, command_id=command_id)
            found = []
            for command in saved:
                found += [{"id": r["id"], "command": command["id"], "system": r["system_id"], "pendingCount": 1} for r in await logic.runs_of(conn, caller, name=command["name"], answered=False)]
            return found

        results = await session(request, work)
        return web.json_response({"totalCount": len(results), "results": results})

    app = web.Application(middlewares=[errors])
    r = app.router
    r.add_get("/api/systemusers", list_systemusers)
    r.add_get("/api/v2/users/{user_id}/systems", user_systems)
    r.add_get("/api/systems/{id}", get_system)
    r.add_get("/api/v2/systeminsights/{table}", system_insights)
    r.add_post("/api/commands", create_command)
    r.add_get("/api/commands", list_commands)
    r.add_get("/api/commands/{id}", get_command)
    r.add_get("/api/commands/{id}/results", command_results)
    r.add_post("/api/runCommand", run_command)
    r.add_get("/api/commandresults", list_results)
    r.add_get("/api/commandresults/{id}", get_result)
    r.add_get("/api/v2/queuedcommand/workflows", queued_workflows)
    return app
