"""Device care in JumpCloud: a read-only health check of the requester's device (what needs fixing and
who fixes it), and a crashing app restarted or repaired by command, then checked running again."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from services.skills import diagnosis
from services.skills.device_diagnostics import DOES
from services.skills.device_steps import find_device, metrics, no_fix, now, read_health, requester, run_fix, verify
from services.skills.skill import Skill, Step, StepContext, StepFailed

# --- device-health ------------------------------------------------------------------------------


#: What would fix a finding, for the report (a health check applies nothing).
REMEDIES = {
    "restart_app": "restart {target}",
    "repair_app": "repair {target}",
    "kill_process": "stop the runaway process {target}",
    "clear_cache": "clear caches and temporary files",
    "reboot": "restart the laptop",
    "install_patches": "install the pending updates (restarts the laptop)",
}


def _remedy(found: diagnosis.Finding) -> str:
    return REMEDIES[found.fix.action].format(target=found.fix.target) if found.fix else found.why_not


async def check_health(ctx: StepContext) -> dict[str, Any]:
    health = await read_health(ctx)
    if diagnosis.stale(health, now()):
        raise no_fix(diagnosis.report(health, now=now())[0])
    return {"metrics": metrics(health), "needs_fixing": [{"problem": f.problem, "evidence": f.evidence, "remedy": _remedy(f)} for f in diagnosis.report(health, now=now())]}


def _health_summary(outputs: Mapping[str, Mapping[str, Any]]) -> str:
    device, checked = outputs["find-device"], outputs["check-health"]
    m = checked["metrics"]
    battery = "no battery" if m["battery_health_pct"] is None else f"battery {m['battery_health_pct']:.0f}%"
    state = (
        f"CPU {m['cpu_load_pct']:.0f}%, memory {m['memory_used_pct']:.0f}% used, disk {m['disk_free_pct']:.0f}% free, "
        f"{battery}, {'encrypted' if m['disk_encrypted'] else 'NOT encrypted'}, {m['pending_patches']} update(s) pending"
    )
    if not checked["needs_fixing"]:
        return f"{device['hostname']} is healthy ({state}). I changed nothing."
    items = "; ".join(f"{i}) {f['evidence']} - {f['remedy']}" for i, f in enumerate(checked["needs_fixing"], start=1))
    return f"{device['hostname']} needs attention ({state}): {items}. I changed nothing; this was a check."


DEVICE_HEALTH = Skill(
    name="device-health",
    steps=(
        Step("find-device", "jumpcloud", "devices.read", find_device, describe=lambda r: {"device_of": requester(r)}),
        Step("check-health", "jumpcloud", "devices.read", check_health, describe=lambda r: {"device_of": requester(r)}),
    ),
    summarise=_health_summary,
)


# --- app-crash ----------------------------------------------------------------------------------


async def check_app(ctx: StepContext) -> dict[str, Any]:
    health = await read_health(ctx)
    asked = str(ctx.inputs.get("app", ""))
    app = diagnosis.app_named(asked, health.apps)
    if app is None:
        installed = ", ".join(a.name for a in health.apps)
        raise StepFailed("app_not_installed", f"{asked!r} is not installed on {ctx.earlier['find-device']['hostname']}; installed: {installed}")
    found = diagnosis.app_problem(health, app, now=now())
    if found.fix is None:
        raise no_fix(found)
    return {"problem": found.problem, "evidence": found.evidence, "action": found.fix.action, "target": found.fix.target, "before": metrics(health)}


def _app_summary(outputs: Mapping[str, Mapping[str, Any]]) -> str:
    device, found = outputs["find-device"], outputs["check-app"]
    did = DOES[found["action"]].format(target=found["target"])
    return f"On {device['hostname']}: {found['evidence']}. I {did} and checked it is running again."


APP_CRASH = Skill(
    name="app-crash",
    steps=(
        Step("find-device", "jumpcloud", "devices.read", find_device, describe=lambda r: {"device_of": requester(r)}),
        Step("check-app", "jumpcloud", "devices.read", check_app, describe=lambda r: {"device_of": requester(r), "app": r.inputs.get("app")}),
        Step("fix-app", "jumpcloud", "devices.run_command", run_fix("check-app"), destructive=True, timeout_s=30.0,
             describe=lambda r: {"device_of": requester(r), "app": r.inputs.get("app"), "fix": "restart the app, or repair it (clear its cache and saved state) if it keeps crashing"}),
        Step("verify", "jumpcloud", "devices.read", verify("check-app"), describe=lambda r: {"device_of": requester(r), "app": r.inputs.get("app")}),
    ),
    summarise=_app_summary,
)

SKILLS = (DEVICE_HEALTH, APP_CRASH)
