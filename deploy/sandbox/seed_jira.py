"""The fake org's Jira: an IT project of tasks, INC for incidents and PUR for purchase requests, with a
history a service desk would have — mostly resolved incidents, a few still open for the same
services (so a new report has something to be linked to), and purchase requests at every stage."""

from __future__ import annotations

import random

import asyncpg

PROJECTS = [("IT", "10001", "IT Operations", ["Task"]), ("INC", "10002", "Incidents", ["Incident"]), ("PUR", "10003", "Purchasing", ["Purchase"])]

# summary, labels, priority, status, status category
INCIDENTS = [
    ("VPN drops every few minutes for the Bangalore office", ["vpn"], "High", "Resolved", "done"),
    ("Outlook cannot connect to Exchange Online", ["email"], "High", "Closed", "done"),
    ("Office Wi-Fi slow on floor 3", ["wifi"], "Medium", "Resolved", "done"),
    ("SSO login loop when opening Salesforce", ["sso", "salesforce"], "High", "Resolved", "done"),
    ("SAP GUI times out during month-end close", ["sap"], "High", "In Progress", "indeterminate"),
    ("GlobalProtect portal unreachable from home networks", ["vpn"], "Highest", "Open", "new"),
    ("Printers on floor 2 not printing", ["printing"], "Low", "Resolved", "done"),
    ("Shared mailbox delivery delayed by 30 minutes", ["email"], "Medium", "In Progress", "indeterminate"),
    ("VPN split tunnel sends Zoom traffic through the tunnel", ["vpn", "zoom"], "Medium", "In Progress", "indeterminate"),
    ("Wi-Fi authentication fails after certificate renewal", ["wifi"], "High", "Closed", "done"),
    ("Jira boards slow to load", ["jira"], "Low", "Resolved", "done"),
    ("Payroll export job failed overnight", ["payroll"], "High", "Resolved", "done"),
]
TASKS = [
    ("Rotate the backup service account's password", ["security"], "Medium", "Done", "done"),
    ("Replace the core switch in the Austin office", ["network"], "High", "In Progress", "indeterminate"),
    ("Renew the Wi-Fi RADIUS certificate", ["wifi"], "High", "Done", "done"),
    ("Upgrade GlobalProtect gateways to 6.2", ["vpn"], "Medium", "To Do", "new"),
]
# summary, item label, requester, priority, status, category
PURCHASES = [
    ("Purchase: 2 x monitor for sarah.williams", "monitor", "sarah.williams", "Low", "Waiting for approval", "new"),
    ("Purchase: figma licence for barbara.garcia", "software-licence", "barbara.garcia", "Low", "Delivered", "done"),
    ("Purchase: docking station for ana.silva", "docking-station", "ana.silva", "Low", "Delivered", "done"),
    ("Purchase: headset for reyansh.rao", "headset", "reyansh.rao", "Low", "Approved", "indeterminate"),
]
# link type, inward, outward: "INC-9 relates to INC-6"; "INC-10 is caused by IT-3"
LINKS = [("Relates", "INC-9", "INC-6"), ("Problem/Incident", "INC-10", "IT-3")]


async def seed_jira(conn: asyncpg.Connection, count: int = 300) -> int:
    """Insert the projects and the issue history if not there; return how many issues were added."""
    from deploy.sandbox.seed import employees  # seed imports this module

    rng = random.Random(11)
    people = [row[2] for row in employees(count) if row[7] not in ("STAGED", "DEPROVISIONED")]
    await conn.execute(
        "INSERT INTO jira_projects (key, id, name, issue_types) SELECT k, i, n, string_to_array(t, ',')"
        " FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) AS p(k, i, n, t) ON CONFLICT DO NOTHING",
        *map(list, zip(*[(k, i, n, ",".join(t)) for k, i, n, t in PROJECTS], strict=True)),
    )
    issues = []
    for project, issue_type, rows in (("INC", "Incident", INCIDENTS), ("IT", "Task", TASKS)):
        for number, (summary, labels, priority, status, category) in enumerate(rows, start=1):
            reporter = rng.choice(people)
            issues.append((project, number, issue_type, summary, f"Reported by {reporter}.", priority, status, category, ",".join(labels), reporter, rng.randint(20, 400)))
    for number, (summary, item, login, priority, status, category) in enumerate(PURCHASES, start=1):
        issues.append(("PUR", number, "Purchase", summary, f"Requested by {login}.", priority, status, category, f"purchase,{item},for-{login}", f"{login}@acme.example", rng.randint(5, 60)))
    ids = [str(10000 + i) for i in range(len(issues))]
    result = await conn.execute(
        "INSERT INTO jira_issues (id, key, project_key, issue_type, summary, description, priority, status, status_category, labels, reporter, created, updated)"
        " SELECT id, p || '-' || n, p, t, s, d, pr, st, c, string_to_array(l, ','), r, now() - make_interval(days => age), now() - make_interval(days => age / 2)"
        " FROM unnest($1::text[], $2::text[], $3::int[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::text[], $12::int[])"
        " AS i(id, p, n, t, s, d, pr, st, c, l, r, age) ON CONFLICT DO NOTHING",
        ids,
        *map(list, zip(*issues, strict=True)),
    )
    await conn.execute(
        "UPDATE jira_projects p SET next_number = greatest(p.next_number,"
        " (SELECT coalesce(max(split_part(key, '-', 2)::int), 0) + 1 FROM jira_issues WHERE project_key = p.key))"
    )
    await conn.execute(
        "INSERT INTO jira_issue_links (id, link_type, inward_key, outward_key, created_by)"
        " SELECT id, t, i, o, 'seed' FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) AS l(id, t, i, o) ON CONFLICT DO NOTHING",
        [str(15000 + n) for n in range(len(LINKS))],
        *map(list, zip(*LINKS, strict=True)),
    )
    return int(result.split()[-1])
