"""The sandbox cases of ``services/skills/device_diagnostics.py``."""

from __future__ import annotations

import asyncpg

from contracts.envelope import Envelope
from deploy.sandbox.cases.workbench import Case, Check


def device_state(login: str, *, commands: list[str], expect: str | None = None) -> Check:
    """The commands run on ``login``'s laptop (actions, in order), and a SQL condition on its insights."""

    async def check(conn: asyncpg.Connection, events: list[Envelope]) -> None:
        system = await conn.fetchval(
            "SELECT su.system_id FROM jumpcloud_system_users su JOIN jumpcloud_users u ON u.id = su.user_id WHERE u.username = $1", login
        )
        ran = [r["action"] for r in await conn.fetch("SELECT action FROM jumpcloud_commands WHERE system_id = $1 ORDER BY request_time", system)]
        assert ran == commands, f"{login}: commands run {ran}, expected {commands}"
        if expect is not None:
            ok = await conn.fetchval(f"SELECT {expect} FROM jumpcloud_insights i WHERE system_id = $1", system)
            row = await conn.fetchrow("SELECT cpu_load_pct, memory_used_pct, disk_free_gb, uptime_days, pending_patches FROM jumpcloud_insights WHERE system_id = $1", system)
            assert ok, f"{login}: expected {expect}; the device shows {dict(row)}"

    return check


TEAMS_BACK_TO_NORMAL = "memory_used_pct < 80 AND NOT EXISTS (SELECT 1 FROM jsonb_array_elements(processes) p WHERE p->>'name' = 'Microsoft Teams' AND (p->>'memory_mb')::int > 2000)"

CASES = (
    Case("runaway app restarted after approval", "laptop-troubleshoot", "hardware-support-specialist", "priya.sharma", "my laptop is very slow and keeps freezing", "resolved", approve=True,
         check=device_state("priya.sharma", commands=["restart_app"], expect=TEAMS_BACK_TO_NORMAL)),
    Case("full disk cleared", "laptop-troubleshoot", "hardware-support-specialist", "john.miller", "laptop super slow, it says the disk is almost full", "resolved", approve=True,
         check=device_state("john.miller", commands=["clear_cache"], expect="100 * disk_free_gb / disk_total_gb >= 10")),
    Case("weeks of uptime fixed by a restart", "laptop-troubleshoot", "hardware-support-specialist", "sarah.williams", "computer getting slower every day", "resolved", approve=True,
         check=device_state("sarah.williams", commands=["reboot"], expect="uptime_days < 1 AND memory_used_pct < 90")),
    Case("normal metrics: asked, slow since an update, updates installed", "laptop-troubleshoot", "hardware-support-specialist", "james.garcia", "my laptop is slow", "resolved",
         approve=True, answers={"slow_where": "everywhere, since the last update"}, check=device_state("james.garcia", commands=["install_patches"], expect="cardinality(pending_patches) = 0")),
    Case("normal metrics: asked, slow only in Outlook", "laptop-troubleshoot", "hardware-support-specialist", "ana.silva", "laptop feels sluggish", "resolved",
         approve=True, answers={"slow_where": "only when I use Outlook"}, check=device_state("ana.silva", commands=["restart_app"])),
    Case("worn battery goes to desktop support", "laptop-troubleshoot", "hardware-support-specialist", "james.martinez", "laptop battery drains in an hour and fan is loud", "escalated",
         error_code="needs_hardware_repair", check=device_state("james.martinez", commands=[])),
    Case("offline device is not diagnosed from stale data", "laptop-troubleshoot", "hardware-support-specialist", "sarah.anderson", "my laptop is slow", "escalated",
         error_code="device_offline", check=device_state("sarah.anderson", commands=[])),
    Case("a process its supervisor restarts: the fix did not help", "laptop-troubleshoot", "hardware-support-specialist", "reyansh.rao", "laptop is extremely slow, fan always on", "escalated",
         approve=True, error_code="fix_did_not_help", check=device_state("reyansh.rao", commands=["kill_process"])),
    Case("manager rejects stopping the process", "laptop-troubleshoot", "hardware-support-specialist", "barbara.garcia", "my laptop is very slow", "escalated",
         approve=False, error_code="approval_rejected", check=device_state("barbara.garcia", commands=[], expect="cpu_load_pct > 85")),
    Case("disk full of the user's own files: no command would help", "laptop-troubleshoot", "hardware-support-specialist", "robert.johnson", "no space left on my disk and everything is slow", "escalated",
         error_code="no_remote_fix", check=device_state("robert.johnson", commands=[])),
    Case("a new hire has no laptop yet", "laptop-troubleshoot", "hardware-support-specialist", "jane.lee", "my laptop is slow", "escalated", error_code="no_device"),
    Case("JumpCloud refuses a key without devices.run_command", "laptop-troubleshoot", "hardware-support-specialist", "sarah.williams", "computer getting slower every day", "escalated",
         approve=True, error_code="scope_refused", check=device_state("sarah.williams", commands=[]),
         prepare=lambda conn: conn.execute("UPDATE sandbox_api_tokens SET scopes = array_remove(scopes, 'devices.run_command') WHERE coworker = 'hardware-support-specialist' AND system = 'jumpcloud'")),
)
