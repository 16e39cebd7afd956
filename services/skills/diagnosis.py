"""Which of a device's metrics explains what its user reports, and what a remote command can do
about it. Pure: the rules a desktop-support engineer applies to JumpCloud's System Insights.

For "slow" the order is the order of cause: one process holding the memory or the CPU explains it
before anything else (restart it if it is an app, kill it if not, never if it is the OS or the
security agent); then a nearly full disk (swap and caches thrash); then weeks without a restart
(memory leaked everywhere, no single culprit). When none of these shows, the metrics do not settle
it and the requester is asked where it is slow. A worn battery is a repair, not a command; so is a
disk full of the user's own files (clearing caches would not free enough). Data older than a day
describes a device that is not there: nothing is diagnosed from it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from services.skills.connectors.jumpcloud import App, Health, Process

DISK_FREE_MIN_PCT = 10.0  # below this the OS slows down and updates cannot install
DISK_FREE_WARN_PCT = 15.0
MEMORY_PRESSURE_PCT = 90.0
CPU_BUSY_PCT = 85.0
HOG_MEMORY_SHARE = 0.25  # one process holding a quarter of the memory
HOG_CPU_PCT = 50.0
UPTIME_MAX_DAYS = 14.0
BATTERY_SERVICE_PCT = 80.0  # the makers' "service recommended" line
STALE_AFTER = timedelta(hours=24)
#: Never killed remotely: the OS itself, the security agent, the management agent.
PROTECTED = frozenset({
    "kernel_task", "windowserver", "launchd", "mds_stores", "system", "explorer.exe", "svchost.exe", "csrss.exe",
    "msmpeng.exe", "falcond", "jumpcloud-agent", "jumpcloud-agent.exe",
})
#: Words people use for the apps on a managed laptop.
APP_WORDS = {
    "outlook": "Microsoft Outlook", "email": "Microsoft Outlook", "mail": "Microsoft Outlook", "teams": "Microsoft Teams",
    "excel": "Microsoft Excel", "word": "Microsoft Word", "powerpoint": "Microsoft PowerPoint", "onenote": "Microsoft OneNote",
    "chrome": "Google Chrome", "browser": "Google Chrome", "zoom": "Zoom", "slack": "Slack", "vpn": "GlobalProtect",
    "vpn client": "GlobalProtect", "globalprotect": "GlobalProtect", "vs code": "Visual Studio Code", "vscode": "Visual Studio Code",
    "visual studio": "Visual Studio Code", "acrobat": "Adobe Acrobat", "pdf": "Adobe Acrobat", "edge": "Microsoft Edge", "firefox": "Firefox",
}
BATTERY = re.compile(r"\b(battery|drains?|draining|charg\w*|fan)\b")
DISK = re.compile(r"\b(disk|storage|space|full)\b")
UPDATE = re.compile(r"\b(update\w*|upgrade\w*|patch\w*)\b")


@dataclass(frozen=True)
class Fix:
    action: str
    target: str | None = None


@dataclass(frozen=True)
class Finding:
    """A problem the metrics show, its evidence in plain words, and the remote fix (None: a person's job)."""

    problem: str
    evidence: str
    fix: Fix | None = None
    why_not: str = ""  # when there is no remote fix: why, and who fixes it


@dataclass(frozen=True)
class Ask:
    """The metrics do not settle it: what to ask the requester."""

    field: str
    question: str


def stale(health: Health, now: datetime) -> bool:
    return now - health.collected_at > STALE_AFTER


def hog(health: Health) -> Process | None:
    """The one process holding the memory or the CPU, if one does."""
    share = HOG_MEMORY_SHARE * health.memory_total_gb * 1024
    heavy = [p for p in health.processes if p.memory_mb >= share or p.cpu_pct >= HOG_CPU_PCT]
    return max(heavy, key=lambda p: (p.memory_mb / share + p.cpu_pct / HOG_CPU_PCT), default=None)


def app_named(words: str, apps: tuple[App, ...]) -> App | None:
    """The installed app ``words`` names ("outlook keeps freezing" -> Microsoft Outlook), if any."""
    text = f" {words.lower()} "
    for app in apps:
        if app.name.lower() in text:
            return app
    for word, name in sorted(APP_WORDS.items(), key=lambda kv: -len(kv[0])):
        if re.search(rf"\b{re.escape(word)}\b", text):
            return next((a for a in apps if a.name == name), None)
    return None


def _offline(health: Health, now: datetime) -> Finding:
    days = (now - health.collected_at).total_seconds() / 86400
    return Finding("offline", f"the agent last reported {days:.0f} days ago", None, "the device is off or disconnected; commands would wait in JumpCloud's queue")


def _hog_finding(health: Health, process: Process) -> Finding:
    share = 100 * process.memory_mb / (health.memory_total_gb * 1024)
    problem = "memory_pressure" if health.memory_used_pct >= MEMORY_PRESSURE_PCT else "cpu_hog"
    evidence = f"{process.name} uses {process.memory_mb / 1024:.1f} GB ({share:.0f}% of memory) and {process.cpu_pct:.0f}% CPU; memory {health.memory_used_pct:.0f}% used, CPU {health.cpu_load_pct:.0f}%"
    if process.name.lower() in PROTECTED:
        return Finding(problem, evidence, None, f"{process.name} belongs to the OS or the security agent and is not stopped remotely; a technician should look")
    app = health.app(process.name)
    return Finding(problem, evidence, Fix("restart_app", app.name) if app else Fix("kill_process", process.name))


def _disk(health: Health) -> Finding:
    evidence = f"{health.disk_free_gb:.1f} GB free of {health.disk_total_gb} GB ({health.disk_free_pct:.0f}%); caches hold {health.cache_gb:.1f} GB"
    after = 100 * (health.disk_free_gb + health.cache_gb) / health.disk_total_gb
    if after < DISK_FREE_WARN_PCT:
        return Finding("disk_full", evidence, None, "the disk is full of the user's own files; clearing caches would not free enough, so the user or a technician must move files")
    return Finding("disk_full", evidence, Fix("clear_cache"))


def _battery(health: Health) -> Finding:
    evidence = f"battery at {health.battery_health_pct:.0f}% of its design capacity after {health.battery_cycles} cycles"
    return Finding("failing_battery", evidence, None, "a worn battery is replaced, not fixed remotely; desktop support arranges it")


def _busy(health: Health) -> bool:
    return health.memory_used_pct >= MEMORY_PRESSURE_PCT or health.cpu_load_pct >= CPU_BUSY_PCT


def explain(health: Health, symptom: str, *, answer: str | None = None, now: datetime) -> Finding | Ask:
    """The finding that explains ``symptom`` (the ticket's words), or the question to ask first.
    ``answer`` is the requester's answer to that question, once given."""
    if stale(health, now):
        return _offline(health, now)
    text = symptom.lower()
    worn = health.battery_health_pct is not None and health.battery_health_pct < BATTERY_SERVICE_PCT
    if BATTERY.search(text) and worn:
        return _battery(health)
    low_disk = health.disk_free_pct < DISK_FREE_MIN_PCT
    if DISK.search(text) and low_disk:
        return _disk(health)
    process = hog(health)
    if process is not None and (_busy(health) or process.cpu_pct >= HOG_CPU_PCT):
        return _hog_finding(health, process)
    if low_disk:
        return _disk(health)
    if health.uptime_days >= UPTIME_MAX_DAYS:
        evidence = f"running for {health.uptime_days:.0f} days without a restart; memory {health.memory_used_pct:.0f}% used with no single process to blame"
        return Finding("long_uptime", evidence, Fix("reboot"))
    if health.memory_used_pct >= MEMORY_PRESSURE_PCT:
        return Finding("memory_pressure", f"memory {health.memory_used_pct:.0f}% used by many apps, none of them runaway", None, "the apps in use need more memory than the device has; a technician should review its specification")
    if answer is None:
        return Ask(
            "slow_where",
            f"Your laptop's CPU ({health.cpu_load_pct:.0f}%), memory ({health.memory_used_pct:.0f}% used) and disk ({health.disk_free_pct:.0f}% free) look normal. "
            "Is it slow only in one app (which one?), or everywhere since the last update?",
        )
    return _answered(health, answer)


def _answered(health: Health, answer: str) -> Finding:
    if (app := app_named(answer, health.apps)) is not None:
        evidence = f"slow in {app.name} only ({app.state}, {app.crashes_7d} crash(es) in 7 days) while the device's metrics are normal"
        return Finding("app_slow", evidence, Fix("repair_app" if app.state == "crashed" or app.crashes_7d >= 3 else "restart_app", app.name))
    if UPDATE.search(answer.lower()):
        if health.pending_patches:
            evidence = f"slow since an update, with {len(health.pending_patches)} update(s) still pending: {', '.join(health.pending_patches)}"
            return Finding("pending_patches", evidence, Fix("install_patches"))
        return Finding("after_update", "slow since an update that is fully installed; the metrics are normal", None, "no remote command undoes an installed update; a technician should check drivers and roll back if needed")
    return Finding("unexplained", "slow everywhere while CPU, memory and disk are normal", None, "nothing a remote command fixes explains it; a technician should look at the device")


def app_problem(health: Health, app: App, *, now: datetime) -> Finding:
    """What to do about an app that crashes or freezes: repair what crashes (a restart alone would
    crash again), restart what hangs or is not running."""
    if stale(health, now):
        return _offline(health, now)
    evidence = f"{app.name} {app.version} is {app.state.replace('_', ' ')} with {app.crashes_7d} crash(es) in 7 days"
    if app.state == "crashed" or app.crashes_7d >= 3:
        return Finding("app_crashing", evidence, Fix("repair_app", app.name))
    return Finding("app_hung" if app.state == "hung" else "app_not_responding", evidence, Fix("restart_app", app.name))


def still(problem: str, target: str | None, health: Health) -> str | None:
    """What is still wrong after the fix for ``problem`` ran, or None when the metric recovered."""
    if problem in ("memory_pressure", "cpu_hog"):
        left = hog(health)
        if left is not None and target is not None and left.name.lower() == target.lower():
            return f"{left.name} still uses {left.memory_mb / 1024:.1f} GB and {left.cpu_pct:.0f}% CPU (it was started again)"
        if _busy(health):
            return f"memory {health.memory_used_pct:.0f}% used, CPU {health.cpu_load_pct:.0f}%"
        return None
    if problem == "disk_full":
        return None if health.disk_free_pct >= DISK_FREE_MIN_PCT else f"only {health.disk_free_pct:.0f}% of the disk is free"
    if problem == "long_uptime":
        return None if health.uptime_days < 1 and health.memory_used_pct < MEMORY_PRESSURE_PCT else f"up {health.uptime_days:.1f} days, memory {health.memory_used_pct:.0f}% used"
    if problem == "pending_patches":
        return None if not health.pending_patches else f"{len(health.pending_patches)} update(s) still pending"
    if problem in ("app_slow", "app_crashing", "app_hung", "app_not_responding"):
        app = health.app(target or "")
        return None if app is not None and app.state == "running" else f"{target} is {app.state.replace('_', ' ') if app else 'not installed'} after the fix"
    return None


def report(health: Health, *, now: datetime) -> list[Finding]:
    """Everything on the device that needs fixing, worst first (for a health check)."""
    if stale(health, now):
        return [_offline(health, now)]
    found = []
    if (process := hog(health)) is not None:
        found.append(_hog_finding(health, process))
    elif health.memory_used_pct >= MEMORY_PRESSURE_PCT:
        found.append(Finding("memory_pressure", f"memory {health.memory_used_pct:.0f}% used", Fix("reboot") if health.uptime_days >= UPTIME_MAX_DAYS else None))
    if health.disk_free_pct < DISK_FREE_WARN_PCT:
        found.append(_disk(health))
    if not health.fde_active:
        found.append(Finding("unencrypted", "full-disk encryption (FileVault / BitLocker) is off", None, "encryption is turned on by the device policy; IT must enable it"))
    if health.battery_health_pct is not None and health.battery_health_pct < BATTERY_SERVICE_PCT:
        found.append(_battery(health))
    if health.pending_patches:
        found.append(Finding("pending_patches", f"{len(health.pending_patches)} update(s) pending: {', '.join(health.pending_patches)}", Fix("install_patches")))
    if health.uptime_days >= UPTIME_MAX_DAYS:
        found.append(Finding("long_uptime", f"running for {health.uptime_days:.0f} days without a restart", Fix("reboot")))
    for app in health.apps:
        if app.state in ("crashed", "hung") or app.crashes_7d >= 3:
            found.append(app_problem(health, app, now=now))
    return found
