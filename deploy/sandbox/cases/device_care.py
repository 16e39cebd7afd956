"""The sandbox cases of ``services/skills/device_care.py``."""

from __future__ import annotations

import asyncpg

from contracts.envelope import Envelope
from contracts.events import SkillCompleted
from deploy.sandbox.cases.device_diagnostics import device_state
from deploy.sandbox.cases.workbench import Case, Check


def reported(*needles: str, changed_nothing: str) -> Check:
    """The resolution names ``needles`` and ``changed_nothing``'s device ran no command."""

    async def check(conn: asyncpg.Connection, events: list[Envelope]) -> None:
        summary = next(e.data.summary for e in events if isinstance(e, SkillCompleted))
        for needle in needles:
            assert needle in summary, f"expected {needle!r} in the report: {summary}"
        await device_state(changed_nothing, commands=[])(conn, events)

    return check


def _app_state(login: str, app: str, state: str, commands: list[str]) -> Check:
    return device_state(login, commands=commands, expect=f"apps @> '[{{\"name\": \"{app}\", \"state\": \"{state}\"}}]'")


def _revoke(coworker: str):  # noqa: ANN202
    return lambda conn: conn.execute("UPDATE sandbox_api_tokens SET revoked_at = now() WHERE coworker = $1 AND system = 'jumpcloud'", coworker)


CASES = (
    Case("a healthy laptop", "device-health", "it-support-workspace-manager", "ana.silva", "is my laptop ok", "resolved", check=reported("is healthy", changed_nothing="ana.silva")),
    Case("encryption off is reported", "device-health", "device-agent", "linda.brown", "check whether my device is encrypted", "resolved", check=reported("NOT encrypted", "full-disk encryption", changed_nothing="linda.brown")),
    Case("pending updates are reported", "device-health", "device-agent", "james.garcia", "is my laptop up to date with patches", "resolved", check=reported("3 update(s) pending", "install the pending updates", changed_nothing="james.garcia")),
    Case("an offline device is not reported from stale data", "device-health", "device-agent", "sarah.anderson", "is my laptop healthy", "escalated", error_code="device_offline"),
    Case("someone the directory does not know", "device-health", "device-agent", "nobody.here", "is my laptop healthy", "escalated", error_code="identity_mismatch"),
    Case("a revoked API key is refused", "device-health", "device-agent", "john.miller", "my disk is almost full what can be removed", "escalated", error_code="credential_refused", prepare=_revoke("device-agent")),
    Case("outlook with a corrupt cache is repaired", "app-crash", "device-agent", "reyansh.chopra", "outlook crashes every time i open it", "resolved", inputs={"app": "outlook"}, approve=True,
         check=_app_state("reyansh.chopra", "Microsoft Outlook", "running", ["repair_app"])),
    Case("frozen teams is restarted", "app-crash", "device-agent", "robert.white", "teams keeps freezing and closing on my laptop", "resolved", inputs={"app": "teams"}, approve=True,
         check=_app_state("robert.white", "Microsoft Teams", "running", ["restart_app"])),
    Case("which app? asked, then restarted", "app-crash", "device-agent", "priya.sharma", "an app on my laptop keeps hanging", "resolved", answers={"app": "Teams"}, approve=True,
         check=_app_state("priya.sharma", "Microsoft Teams", "running", ["restart_app"])),
    Case("excel incompatible with the OS: repair did not help", "app-crash", "device-agent", "diya.bose", "excel will not start after the update", "escalated", inputs={"app": "excel"}, approve=True,
         error_code="fix_did_not_help", check=_app_state("diya.bose", "Microsoft Excel", "crashed", ["repair_app"])),
    Case("an app that is not installed", "app-crash", "device-agent", "ana.silva", "sap keeps crashing", "escalated", inputs={"app": "sap"}, error_code="app_not_installed", check=device_state("ana.silva", commands=[])),
    Case("manager rejects the repair", "app-crash", "device-agent", "reyansh.chopra", "outlook crashes every time i open it", "escalated", inputs={"app": "outlook"}, approve=False,
         error_code="approval_rejected", check=_app_state("reyansh.chopra", "Microsoft Outlook", "crashed", [])),
    Case("an offline device", "app-crash", "device-agent", "sarah.anderson", "outlook crashes every time i open it", "escalated", inputs={"app": "outlook"}, error_code="device_offline"),
)
