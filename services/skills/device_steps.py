"""The JumpCloud steps the device skills share: find the requester's own device, run the remote fix
a diagnosis chose, and check afterwards that the metric it was for recovered."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from contracts.events import SkillRequest
from services.skills import diagnosis
from services.skills.connectors.jumpcloud import Health, JumpCloud
from services.skills.failures import refused
from services.skills.skill import NeedInput, StepContext, StepFailed

#: Why a diagnosis without a remote fix goes to a person, by problem.
NO_FIX_CODES = {"offline": "device_offline", "failing_battery": "needs_hardware_repair"}


def requester(request: SkillRequest) -> str:
    """Whose device: always the requester's own. A ticket naming another device changes nothing."""
    return request.ticket.requester.email or request.ticket.requester.id


def metrics(h: Health) -> dict[str, Any]:
    return {
        "cpu_load_pct": h.cpu_load_pct,
        "memory_used_pct": h.memory_used_pct,
        "disk_free_pct": h.disk_free_pct,
        "battery_health_pct": h.battery_health_pct,
        "uptime_days": h.uptime_days,
        "pending_patches": len(h.pending_patches),
        "disk_encrypted": h.fde_active,
        "collected_at": h.collected_at.isoformat(),
    }


def now() -> datetime:
    return datetime.now(UTC)


async def find_device(ctx: StepContext) -> dict[str, Any]:
    devices: JumpCloud = ctx.system
    email = requester(ctx.request)
    with refused("JumpCloud", f"listing the devices of {email}", default="user_not_found", coworker=ctx.request.coworker):
        systems = await devices.systems_of(email)
    if not systems:
        raise StepFailed("no_device", f"JumpCloud has no device bound to {email}")
    if len(systems) > 1:
        named = str(ctx.inputs.get("device", "")).lower()
        chosen = [s for s in systems if s.hostname.lower() in named or s.display_name.lower() in named]
        if len(chosen) != 1:
            raise NeedInput("device", "Which device is it: " + " or ".join(f"{s.display_name} ({s.hostname})" for s in systems) + "?")
        systems = chosen
    system = systems[0]
    return {"system_id": system.id, "hostname": system.hostname, "os": f"{system.os} {system.os_version}", "agent_online": system.active, "last_contact": system.last_contact.isoformat()}


async def read_health(ctx: StepContext) -> Health:
    devices: JumpCloud = ctx.system
    device = ctx.earlier["find-device"]
    with refused("JumpCloud", f"reading the health of {device['hostname']}", default="device_not_found", coworker=ctx.request.coworker):
        health = await devices.health(device["system_id"])
    return health


def no_fix(finding: diagnosis.Finding) -> StepFailed:
    return StepFailed(NO_FIX_CODES.get(finding.problem, "no_remote_fix"), f"{finding.evidence}; {finding.why_not}")


def run_fix(chosen_by: str) -> Callable[[StepContext], Any]:
    """A step running the fix step ``chosen_by`` chose, on the requester's device."""

    async def run(ctx: StepContext) -> dict[str, Any]:
        devices: JumpCloud = ctx.system
        plan = ctx.earlier[chosen_by]
        with refused("JumpCloud", f"running {plan['action']} on {ctx.earlier['find-device']['hostname']}", default="command_refused", coworker=ctx.request.coworker):
            result = await devices.run_command(ctx.earlier["find-device"]["system_id"], plan["action"], plan["target"], idempotency_key=ctx.idempotency_key, ticket_id=ctx.request.ticket_id)
        if result.status != "finished":
            raise StepFailed("device_offline", f"{plan['action']} waits in JumpCloud's queue: the device's agent is offline")
        if result.exit_code != 0:
            raise StepFailed("fix_failed", f"{plan['action']} {plan['target'] or ''} exited {result.exit_code}: {result.output}".strip())
        return {"command_id": result.id, "action": result.action, "target": result.target, "exit_code": result.exit_code, "output": result.output}

    return run


def verify(chosen_by: str) -> Callable[[StepContext], Any]:
    """A step reading the device again: the metric the fix was for must have recovered."""

    async def run(ctx: StepContext) -> dict[str, Any]:
        plan: Mapping[str, Any] = ctx.earlier[chosen_by]
        after = await read_health(ctx)
        if (left := diagnosis.still(plan["problem"], plan["target"], after)) is not None:
            raise StepFailed("fix_did_not_help", f"after {plan['action']} {plan['target'] or ''}: {left}".replace("  ", " "))
        return {"after": metrics(after)}

    return run
