"""The fake org's devices in the JumpCloud sandbox: every employee who works here has a laptop, and
the laptops are in the states a service desk meets. Named people have a named problem (so cases and
samples can name them); everyone else gets one by a seeded draw, mostly none.

Each profile is the metrics a real device with that problem shows: a runaway app holding most of
the memory, a disk full of caches (or of the user's own files, which clearing caches will not fix),
weeks of uptime with memory leaked across every process, pending patches, a worn battery, an agent
offline for days, an app that crashes from a corrupt cache or from an incompatible version.
"""

from __future__ import annotations

import hashlib
import json
import random
from typing import Any

import asyncpg

from deploy.sandbox.jumpcloud import BOOT_CPU_PCT, object_id

#: Who has which problem, by login (people from ``seed.employees()``).
PROFILES: dict[str, str] = {
    "ana.silva": "healthy",
    "priya.sharma": "runaway_app",
    "john.miller": "disk_full",
    "lisa.wong": "healthy",
    "james.martinez": "failing_battery",
    "sarah.williams": "long_uptime",
    "reyansh.rao": "respawning_hog",
    "sarah.anderson": "offline",
    "james.garcia": "pending_patches",
    "reyansh.chopra": "app_corrupt_cache",
    "diya.bose": "app_incompatible",
    "robert.johnson": "disk_full_user_files",
    "linda.brown": "unencrypted",
    "barbara.garcia": "runaway_process",
    "robert.white": "app_hung",
    "jennifer.taylor": "protected_hog",
}
#: Everyone else: mostly healthy.
DRAW = {
    "healthy": 60, "pending_patches": 8, "long_uptime": 6, "disk_full": 5, "runaway_app": 4, "app_hung": 4,
    "app_corrupt_cache": 3, "failing_battery": 3, "unencrypted": 3, "offline": 2, "protected_hog": 2,
}
#: The OS of the named people's laptops (the rest by draw).
OS = {"priya.sharma": "Windows", "james.garcia": "Windows", "diya.bose": "Windows", "jennifer.taylor": "Windows", "robert.johnson": "Windows"}

MAC_SYSTEM = [("kernel_task", 900, 3.0), ("WindowServer", 450, 4.0), ("mds_stores", 180, 1.0), ("jumpcloud-agent", 60, 0.3)]
WIN_SYSTEM = [("System", 200, 1.5), ("explorer.exe", 150, 1.0), ("MsMpEng.exe", 250, 1.5), ("svchost.exe", 300, 1.0), ("jumpcloud-agent.exe", 60, 0.3)]
# name, version, normal memory (MB), runs at login
APPS = [
    ("Microsoft Outlook", "16.84", 600, True), ("Microsoft Teams", "24.102", 800, True), ("Google Chrome", "124.0", 1200, True),
    ("Slack", "4.38", 500, True), ("Zoom", "6.0.2", 250, False), ("Microsoft Excel", "16.84", 350, False),
    ("Microsoft Word", "16.84", 300, False), ("GlobalProtect", "6.2", 80, True),
]
EXTRA_APPS = {"Engineering": ("Visual Studio Code", "1.89", 700, True), "Finance": ("Adobe Acrobat", "24.002", 300, False), "Legal": ("Adobe Acrobat", "24.002", 300, False)}
PATCHES = {
    "Mac OS X": ["macOS Sonoma 14.5 (23F79)", "Safari 17.5", "XProtectPayloads 131"],
    "Windows": ["2024-05 Cumulative Update for Windows 11 Version 23H2 (KB5037771)", "2024-05 .NET Framework 3.5 and 4.8.1 (KB5037591)", "Security Intelligence Update for Microsoft Defender Antivirus (KB2267602)"],
}


def _process(name: str, memory_mb: float, cpu_pct: float, pid: int, *, respawns: bool = False, normal: tuple[float, float] | None = None) -> dict[str, Any]:
    normal_mb, normal_cpu = normal or (memory_mb, cpu_pct)
    return {"name": name, "pid": pid, "cpu_pct": round(cpu_pct, 1), "memory_mb": int(memory_mb), "respawns": respawns, "normal_mb": int(normal_mb), "normal_cpu": round(normal_cpu, 1)}


def device(department: str, os: str, profile: str, rng: random.Random) -> dict[str, Any]:
    """One laptop's system record and insights, in ``profile``'s state."""
    memory_gb = 32 if department == "Engineering" else rng.choice([16, 16, 16, 8])
    disk_gb = rng.choice([256, 512, 512])
    total_mb = memory_gb * 1024
    apps = [{"name": n, "version": v, "state": "running" if login_item else "not_running", "crashes_7d": 0, "fault": None, "normal_mb": mb} for n, v, mb, login_item in [*APPS, *([EXTRA_APPS[department]] if department in EXTRA_APPS else [])]]
    pid = iter(range(100 + rng.randrange(400), 100000, 37))
    processes = [_process(n, mb * rng.uniform(0.8, 1.2), cpu * rng.uniform(0.5, 1.5), next(pid)) for n, mb, cpu in (MAC_SYSTEM if os == "Mac OS X" else WIN_SYSTEM)]
    processes += [_process(a["name"], a["normal_mb"] * rng.uniform(0.8, 1.25), rng.uniform(0.5, 3.0), next(pid)) for a in apps if a["state"] == "running"]
    base_pct = rng.uniform(22, 30)
    state: dict[str, Any] = {
        "active": True, "contact_minutes": rng.randint(1, 40), "fde": True,
        "disk_free_gb": disk_gb * rng.uniform(0.25, 0.6), "cache_gb": rng.uniform(2, 9),
        "battery": rng.uniform(84, 100), "cycles": rng.randint(30, 650),
        "uptime": rng.uniform(0.3, 6.0), "patches": [],
    }

    def app(name: str) -> dict[str, Any]:
        return next(a for a in apps if a["name"] == name)

    def hog(name: str, memory_pct: float, cpu: float, **kw: Any) -> None:
        """Make ``name`` take the memory that brings the device to ``memory_pct`` used, and ``cpu``."""
        used = base_pct + sum(100 * p["memory_mb"] / total_mb for p in processes if p["name"] != name)
        mb = max(1500.0, (memory_pct - used) / 100 * total_mb)
        old = next((p for p in processes if p["name"] == name), None)
        normal = (old["normal_mb"], old["normal_cpu"]) if old else None
        if old:
            processes.remove(old)
        processes.append(_process(name, mb, cpu, next(pid), normal=normal, **kw))

    if profile == "runaway_app":
        app("Microsoft Teams").update(state="hung", fault="hung")
        hog("Microsoft Teams", 94.0, 62.0)
    elif profile == "runaway_process":
        hog("node", 71.0, 88.0)
    elif profile == "respawning_hog":
        hog("CrashPlanService", 92.0, 74.0, respawns=True)
    elif profile == "protected_hog":
        hog("MsMpEng.exe" if os == "Windows" else "mds_stores", 63.0, 86.0)
    elif profile == "disk_full":
        state.update(disk_free_gb=disk_gb * 0.032, cache_gb=disk_gb * 0.16)
    elif profile == "disk_full_user_files":
        state.update(disk_free_gb=disk_gb * 0.04, cache_gb=2.5)
    elif profile == "long_uptime":
        state["uptime"] = rng.uniform(38, 47)
        base_pct = 58.0  # memory leaked across the OS and every app, no single culprit
    elif profile == "pending_patches":
        state.update(patches=PATCHES[os], uptime=rng.uniform(8, 12))
    elif profile == "failing_battery":
        state.update(battery=rng.uniform(52, 62), cycles=rng.randint(1050, 1300))
    elif profile == "offline":
        state.update(active=False, contact_minutes=rng.randint(11, 16) * 24 * 60)
    elif profile == "app_corrupt_cache":
        app("Microsoft Outlook").update(state="crashed", crashes_7d=6, fault="corrupt_cache")
        processes[:] = [p for p in processes if p["name"] != "Microsoft Outlook"]
    elif profile == "app_incompatible":
        app("Microsoft Excel").update(state="crashed", crashes_7d=9, fault="incompatible")
    elif profile == "app_hung":
        app("Microsoft Teams").update(state="hung", fault="hung")
    elif profile == "unencrypted":
        state["fde"] = False
    memory_pct = base_pct + sum(100 * p["memory_mb"] / total_mb for p in processes)
    cpu_pct = BOOT_CPU_PCT + sum(p["cpu_pct"] for p in processes)
    return {
        "os": os, "memory_gb": memory_gb, "disk_gb": disk_gb, "profile": profile, **state,
        "memory_pct": round(min(99.0, memory_pct), 1), "cpu_pct": round(min(99.0, cpu_pct), 1),
        "processes": processes, "apps": apps,
    }


async def seed_jumpcloud(conn: asyncpg.Connection, count: int = 300) -> int:
    """Insert the fake org's system users, their laptops and the laptops' insights if not there."""
    from deploy.sandbox.seed import employees  # seed imports this module

    rng = random.Random(7)
    users, systems, bound, insights = [], [], [], []
    for index, (_, login, email, first, last, _, department, status) in enumerate(employees(count)):
        name = login.split("@")[0]
        user_id = object_id("systemuser", email)
        users.append((user_id, name, email, first, last, {"STAGED": "STAGED", "SUSPENDED": "SUSPENDED", "DEPROVISIONED": "SUSPENDED"}.get(status, "ACTIVATED")))
        os = OS.get(name) or ("Mac OS X" if rng.random() < 0.55 else "Windows")
        profile = PROFILES.get(name) or rng.choices(list(DRAW), list(DRAW.values()))[0]
        d = device(department, os, profile, rng)  # drawn for everyone: a person gets the same laptop whatever the count
        if status in ("STAGED", "DEPROVISIONED"):
            continue  # a new hire's laptop is not issued yet; a leaver's was returned and wiped
        system_id = object_id("system", email)
        serial = hashlib.sha256(email.encode()).hexdigest().upper()
        hostname = f"{name.replace('.', '-')}-mbp" if os == "Mac OS X" else f"ACME-W{index:05d}"
        version = rng.choice(["14.4.1", "14.5", "15.1"]) if os == "Mac OS X" else rng.choice(["10.0.22631", "10.0.22631", "10.0.19045"])
        systems.append((
            system_id, hostname, f"{first} {last}'s {'MacBook Pro' if os == 'Mac OS X' else 'ThinkPad'}", os, version,
            "arm64" if os == "Mac OS X" else "x86_64", rng.choice(["1.176.0", "1.190.0", "1.190.0"]),
            ("C02" if os == "Mac OS X" else "PF") + serial[:8], d["active"], d["contact_minutes"], d["fde"],
        ))
        bound.append((system_id, user_id))
        insights.append((
            system_id, d["contact_minutes"], d["cpu_pct"], d["memory_gb"], d["memory_pct"], d["disk_gb"], round(d["disk_free_gb"], 1),
            round(d["cache_gb"], 1), round(d["battery"], 1), d["cycles"], round(d["uptime"], 2), json.dumps(d["patches"]),
            json.dumps(d["processes"]), json.dumps(d["apps"]),
        ))
    result = await conn.execute(
        "INSERT INTO jumpcloud_users (id, username, email, firstname, lastname, state)"
        " SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[]) ON CONFLICT DO NOTHING",
        *map(list, zip(*users, strict=True)),
    )
    await conn.execute(
        "INSERT INTO jumpcloud_systems (id, hostname, display_name, os, os_version, arch, agent_version, serial_number, active, last_contact, fde_active)"
        " SELECT id, h, dn, os, v, a, av, sn, act, now() - make_interval(mins => m), fde"
        " FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::bool[], $10::int[], $11::bool[])"
        " AS t(id, h, dn, os, v, a, av, sn, act, m, fde) ON CONFLICT DO NOTHING",
        *map(list, zip(*systems, strict=True)),
    )
    await conn.execute(
        "INSERT INTO jumpcloud_system_users (system_id, user_id) SELECT * FROM unnest($1::text[], $2::text[]) ON CONFLICT DO NOTHING",
        *map(list, zip(*bound, strict=True)),
    )
    await conn.execute(
        "INSERT INTO jumpcloud_insights (system_id, collected_at, cpu_load_pct, memory_total_gb, memory_used_pct, disk_total_gb, disk_free_gb, cache_gb,"
        " battery_health_pct, battery_cycles, uptime_days, pending_patches, processes, apps)"
        " SELECT id, now() - make_interval(mins => m), cpu, mem, memp, disk, free, cache, bat, cyc, up,"
        " ARRAY(SELECT jsonb_array_elements_text(patches::jsonb)), procs::jsonb, apps::jsonb"
        " FROM unnest($1::text[], $2::int[], $3::float8[], $4::int[], $5::float8[], $6::int[], $7::float8[], $8::float8[], $9::float8[], $10::int[],"
        " $11::float8[], $12::text[], $13::text[], $14::text[]) AS t(id, m, cpu, mem, memp, disk, free, cache, bat, cyc, up, patches, procs, apps)"
        " ON CONFLICT DO NOTHING",
        *map(list, zip(*insights, strict=True)),
    )
    return int(result.split()[-1])
