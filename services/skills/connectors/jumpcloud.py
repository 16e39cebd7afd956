"""The JumpCloud connector interface: what steps may ask of the device directory. ``JumpCloudSandbox``
(deploy/sandbox/jumpcloud.py) speaks it over PostgreSQL; a real client would speak it over
JumpCloud's v1/v2 APIs (``/api/v2/users/{id}/systems``, System Insights, ``/api/commands`` and
``/api/runCommand``). Errors are ``ApiError``s as JumpCloud reports them: ``{"code", "message",
"status"}`` with 400, 401, 403 and 404.

A remote fix is one of a few named actions; ``script`` turns it into the command JumpCloud runs on
the device, so the sandbox and a real client run the same thing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

from runtime.vendor.errors import ApiError

Action = Literal["restart_app", "repair_app", "clear_cache", "kill_process", "install_patches", "reboot"]
ACTIONS: frozenset[str] = frozenset({"restart_app", "repair_app", "clear_cache", "kill_process", "install_patches", "reboot"})
#: Actions that name what they act on (an app or a process).
TARGETED: frozenset[str] = frozenset({"restart_app", "repair_app", "kill_process"})
#: What may be interpolated into a device's shell: a name, never a command.
SAFE_TARGET = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._+-]{0,63}$")


class JumpCloudError(ApiError):
    """An error as JumpCloud reports it: ``{"code": <status>, "message": ..., "status": <reason>}``."""

    REASONS = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 409: "Conflict", 429: "Too Many Requests"}

    def __init__(self, status: int, message: str, *, reason: str | None = None) -> None:
        super().__init__(status, reason or self.REASONS.get(status, "Error"), message)


@dataclass(frozen=True)
class System:
    id: str
    hostname: str
    display_name: str
    os: str  # "Mac OS X" | "Windows"
    os_version: str
    agent_version: str
    active: bool  # the agent is connected now
    last_contact: datetime
    fde_active: bool


@dataclass(frozen=True)
class Process:
    name: str
    pid: int
    cpu_pct: float
    memory_mb: int


@dataclass(frozen=True)
class App:
    name: str
    version: str
    state: str  # running | hung | crashed | not_running
    crashes_7d: int


@dataclass(frozen=True)
class Health:
    """What System Insights last collected from a device's agent."""

    system_id: str
    collected_at: datetime
    cpu_load_pct: float
    memory_total_gb: int
    memory_used_pct: float
    disk_total_gb: int
    disk_free_gb: float
    cache_gb: float  # purgeable caches and temp files: what clearing caches can free
    battery_health_pct: float | None
    battery_cycles: int | None
    uptime_days: float
    pending_patches: tuple[str, ...]
    processes: tuple[Process, ...]
    apps: tuple[App, ...]
    fde_active: bool

    @property
    def disk_free_pct(self) -> float:
        return round(100 * self.disk_free_gb / self.disk_total_gb, 1)

    def process(self, name: str) -> Process | None:
        return next((p for p in self.processes if p.name.lower() == name.lower()), None)

    def app(self, name: str) -> App | None:
        return next((a for a in self.apps if a.name.lower() == name.lower()), None)


@dataclass(frozen=True)
class CommandResult:
    id: str
    system_id: str
    action: str
    target: str | None
    command: str  # the script the agent runs
    status: str  # finished | pending (the agent is offline; JumpCloud queues it)
    exit_code: int | None
    output: str


class JumpCloud(Protocol):
    async def systems_of(self, email: str) -> list[System]: ...

    async def health(self, system_id: str) -> Health: ...

    async def run_command(self, system_id: str, action: str, target: str | None, *, idempotency_key: str, ticket_id: str) -> CommandResult: ...


def script(os: str, action: str, target: str | None) -> str:
    """The command an agent runs for ``action`` on ``target``, in the device's own shell.

    Raises ``ValueError`` (a 400) for an unknown action, a missing target, or a target that is not a
    plain name: nothing from a ticket reaches a device's shell except a validated name."""
    if action not in ACTIONS:
        raise ValueError(f"unknown action {action!r}; one of {', '.join(sorted(ACTIONS))}")
    if action in TARGETED and (target is None or not SAFE_TARGET.match(target)):
        raise ValueError(f"{action} needs the name of an app or process (letters, digits, space, . _ + -), got {target!r}")
    mac = os == "Mac OS X"
    if mac:
        return {
            "restart_app": f'osascript -e \'quit app "{target}"\'; sleep 5; pkill -x "{target}"; open -a "{target}"',
            "repair_app": f'pkill -x "{target}"; rm -rf ~/Library/Caches/*"{target}"* ~/Library/Saved\\ Application\\ State/*"{target}"*; open -a "{target}"',
            "clear_cache": "rm -rf ~/Library/Caches/* /private/var/folders/*/*/C/* ~/.Trash/*",
            "kill_process": f'pkill -x "{target}"',
            "install_patches": "softwareupdate --install --all --restart",
            "reboot": "shutdown -r +1 'Restarting for IT support'",
        }[action]
    return {
        "restart_app": f'Stop-Process -Name "{target}" -Force; Start-Sleep 5; Start-Process "{target}"',
        "repair_app": f'Stop-Process -Name "{target}" -Force; Remove-Item "$env:LOCALAPPDATA\\{target}\\Cache" -Recurse -Force; Start-Process "{target}"',
        "clear_cache": 'Remove-Item "$env:TEMP\\*" -Recurse -Force; Clear-RecycleBin -Force; cleanmgr /sagerun:1',
        "kill_process": f'Stop-Process -Name "{target}" -Force',
        "install_patches": "Install-WindowsUpdate -AcceptAll -AutoReboot",
        "reboot": 'shutdown /r /t 60 /c "Restarting for IT support"',
    }[action]
