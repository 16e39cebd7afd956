"""Laptop troubleshooting in JumpCloud: find the requester's device, diagnose what they report from its
metrics (asking them where it is slow when the metrics do not settle it), apply the remote fix the
diagnosis chose, and read the device again to check the metric recovered."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from services.skills import diagnosis
from services.skills.device_steps import find_device, metrics, no_fix, now, read_health, requester, run_fix, verify
from services.skills.skill import NeedInput, Skill, Step, StepContext

#: Each problem's fix, in the words the requester reads.
DOES = {
    "restart_app": "restarted {target}",
    "repair_app": "repaired and restarted {target}",
    "kill_process": "stopped the runaway process {target}",
    "clear_cache": "cleared caches and temporary files",
    "reboot": "restarted the laptop",
    "install_patches": "installed the pending updates (the laptop restarted)",
}


async def diagnose(ctx: StepContext) -> dict[str, Any]:
    health = await read_health(ctx)
    found = diagnosis.explain(health, ctx.request.ticket.text, answer=ctx.inputs.get("slow_where"), now=now())
    if isinstance(found, diagnosis.Ask):
        raise NeedInput(found.field, found.question)
    if found.fix is None:
        raise no_fix(found)
    return {"problem": found.problem, "evidence": found.evidence, "action": found.fix.action, "target": found.fix.target, "before": metrics(health)}


def _summary(outputs: Mapping[str, Mapping[str, Any]]) -> str:
    device, found, after = outputs["find-device"], outputs["diagnose"], outputs["verify"]["after"]
    did = DOES[found["action"]].format(target=found["target"])
    return (
        f"Diagnosed {device['hostname']}: {found['evidence']}. I {did}; it is now at CPU {after['cpu_load_pct']:.0f}%, "
        f"memory {after['memory_used_pct']:.0f}% used, disk {after['disk_free_pct']:.0f}% free."
    )


LAPTOP_TROUBLESHOOT = Skill(
    name="laptop-troubleshoot",
    steps=(
        Step("find-device", "jumpcloud", "devices.read", find_device, describe=lambda r: {"device_of": requester(r)}),
        Step("diagnose", "jumpcloud", "devices.read", diagnose, describe=lambda r: {"device_of": requester(r), "symptom": r.ticket.title}),
        Step(
            "apply-fix", "jumpcloud", "devices.run_command", run_fix("diagnose"), destructive=True, timeout_s=30.0,
            describe=lambda r: {"device_of": requester(r), "fix": "the remote fix the diagnosis chose: restart or repair an app, stop a runaway process, clear caches, install updates or restart"},
        ),
        Step("verify", "jumpcloud", "devices.read", verify("diagnose"), describe=lambda r: {"device_of": requester(r)}),
    ),
    summarise=_summary,
)

SKILLS = (LAPTOP_TROUBLESHOOT,)
