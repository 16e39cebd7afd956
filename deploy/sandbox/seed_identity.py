"""The fake org in the identity sandboxes: Okta profiles, apps, groups and MFA factors; Microsoft
Entra users, groups and sign-in risk; building badges. Derived from ``seed.employees()`` and HR's
view of the same people (``hr_org.org()``: employee ids, titles, managers), so every system describes
the same org. Each person's draws come from an RNG seeded with their login, so a person's accounts do
not depend on how many people are seeded. A few people the cases name are fixed.

Who has what follows the person's status: a STAGED new hire (jane.lee) has an Okta account and a
cardholder record but no apps, factors or badge yet; a DEPROVISIONED leaver (rahul.verma) keeps a
disabled Entra account and a returned badge, and no app assignments; a SUSPENDED user keeps their
assignments and a suspended badge.
"""

from __future__ import annotations

import hashlib
import json
import random
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg

from deploy.sandbox import hr_org, seed  # as modules: seed imports this one

# --- Okta ---------------------------------------------------------------------------------------

#: name, label, sign-on mode, status. Figma's seats are all taken (its limit is set to what is assigned).
APPS = [
    ("office365", "Microsoft Office 365", "WS_FEDERATION", "ACTIVE"),
    ("slack", "Slack", "SAML_2_0", "ACTIVE"),
    ("zoom", "Zoom", "SAML_2_0", "ACTIVE"),
    ("workday", "Workday", "SAML_2_0", "ACTIVE"),
    ("confluence", "Confluence", "SAML_2_0", "ACTIVE"),
    ("jira", "Jira Software", "SAML_2_0", "ACTIVE"),
    ("github", "GitHub Enterprise Cloud", "SAML_2_0", "ACTIVE"),
    ("gitlab", "GitLab", "SAML_2_0", "INACTIVE"),  # retired for GitHub; nobody is assigned any more
    ("aws", "AWS IAM Identity Center", "SAML_2_0", "ACTIVE"),
    ("salesforce", "Salesforce.com", "SAML_2_0", "ACTIVE"),
    ("tableau", "Tableau Cloud", "SAML_2_0", "ACTIVE"),
    ("servicenow", "ServiceNow", "SAML_2_0", "ACTIVE"),
    ("zendesk", "Zendesk", "SAML_2_0", "ACTIVE"),
    ("figma", "Figma", "SAML_2_0", "ACTIVE"),
    ("netsuite", "Oracle NetSuite", "SAML_2_0", "ACTIVE"),
    ("docusign", "DocuSign", "SAML_2_0", "ACTIVE"),
    ("greenhouse", "Greenhouse Recruiting", "SAML_2_0", "ACTIVE"),
    ("databricks", "Databricks", "OPENID_CONNECT", "ACTIVE"),
    ("snowflake", "Snowflake", "SAML_2_0", "ACTIVE"),
]
FULL_APPS = frozenset({"figma"})
#: Every employee's apps, then their department's (app, share of the department that has it).
BASELINE_APPS = ["office365", "slack", "zoom", "workday"]
DEPARTMENT_APPS: dict[str, list[tuple[str, float]]] = {
    "Engineering": [("confluence", 1), ("jira", 1), ("github", 1), ("aws", 0.6), ("databricks", 0.3), ("snowflake", 0.3), ("figma", 0.15)],
    "Finance": [("tableau", 1), ("netsuite", 1), ("snowflake", 0.3)],
    "Sales": [("salesforce", 1), ("tableau", 0.7), ("docusign", 0.5)],
    "Marketing": [("salesforce", 0.5), ("figma", 0.8), ("confluence", 1)],
    "Support": [("zendesk", 1), ("servicenow", 1), ("jira", 1), ("confluence", 1)],
    "HR": [("greenhouse", 1), ("docusign", 1)],
    "Legal": [("docusign", 1), ("confluence", 0.5)],
    "Operations": [("jira", 1), ("confluence", 1), ("servicenow", 0.6)],
    "IT": [("servicenow", 1), ("jira", 1), ("confluence", 1), ("aws", 0.8)],
}
#: (factor type, provider, status, profile) per named person.
FIXED_FACTORS: dict[str, list[tuple[str, str, str, dict[str, str]]]] = {
    "ana.silva": [("push", "OKTA", "ACTIVE", {"name": "iPhone 14", "platform": "IOS"}), ("sms", "OKTA", "ACTIVE", {})],
    "priya.sharma": [("push", "OKTA", "ACTIVE", {"name": "Pixel 7", "platform": "ANDROID"})],
    "john.miller": [("push", "OKTA", "ACTIVE", {"name": "iPhone 13", "platform": "IOS"}), ("token:software:totp", "GOOGLE", "ACTIVE", {})],
    "lisa.wong": [("push", "OKTA", "ACTIVE", {"name": "iPhone 12", "platform": "IOS"})],
}
WORKING = frozenset({"ACTIVE", "RECOVERY", "LOCKED_OUT", "PASSWORD_EXPIRED", "SUSPENDED"})
PHONES = {"US": ["iPhone 15", "iPhone 14", "iPhone 13", "Pixel 8", "Galaxy S23"], "IN": ["Galaxy S23", "OnePlus 11", "iPhone 14", "Pixel 7", "Redmi Note 12"]}

def _rng(kind: str, login: str) -> random.Random:
    return random.Random(f"{kind}:{login}")


def _id(prefix: str, *parts: str) -> str:
    return prefix + hashlib.sha256(":".join(parts).encode()).hexdigest()[:17]


def app_id(name: str) -> str:
    return _id("0oa", "app", name)


def group_id(name: str) -> str:
    return _id("00g", "group", name)


def phone(login: str, country: str) -> str:
    rng = _rng("phone", login)
    return f"+1512555{rng.randrange(10_000):04d}" if country == "US" else f"+9198{rng.randrange(10**8):08d}"


def _groups(department: str, country: str) -> list[str]:
    return ["Everyone", department, "US Employees" if country == "US" else "India Employees"]


async def seed_okta_access(conn: asyncpg.Connection, count: int = 300) -> int:
    """Profiles (employee number, title, manager, phone), apps and assignments with their last
    sign-in, groups and memberships, and MFA factors; return how many rows were added."""
    now = datetime.now(UTC)
    rows = seed.employees(count)
    people = hr_org.org(count)[: len(rows)]
    ids = [row[0] for row in rows]
    added = 0
    # Profiles: only where not set yet, so a second run changes nothing.
    profile = [
        (row[0], person.employee_id, person.job_title, ids[person.manager] if person.manager is not None else None, phone(person.login, person.country))
        for row, person in zip(rows, people, strict=True)
    ]
    result = await conn.execute(
        "UPDATE okta_users u SET employee_number = p.number, title = p.title, manager_id = p.manager, mobile_phone = p.phone"
        " FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[]) AS p(id, number, title, manager, phone)"
        " WHERE u.id = p.id AND u.title IS NULL",
        *map(list, zip(*profile, strict=True)),
    )
    added += int(result.split()[-1])
    # Apps, with every app's seats: an app is full when its limit is what is assigned.
    assignments: list[tuple[str, str, str, datetime]] = []
    sign_ins: list[tuple[str, str, datetime]] = []
    for (user_id, login, *_rest), person in zip(rows, people, strict=True):
        status = _rest[-1]
        if status not in WORKING:
            continue
        rng = _rng("okta-apps", login)
        apps = list(BASELINE_APPS) + [name for name, share in DEPARTMENT_APPS[person.department] if rng.random() < share]
        for name in apps:
            assigned = now - timedelta(days=rng.randrange(20, 1500))
            assignments.append((app_id(name), user_id, assigned))
            # Everyday apps are used by nearly everyone; a department's tools go unused more often.
            recent, month, stale = (0.95, 0.97, 0.99) if name in BASELINE_APPS else (0.72, 0.8, 0.92)
            draw = rng.random()
            if status == "SUSPENDED":
                draw = max(draw, month)  # a suspended user has not signed in since
            if draw < recent:
                used = now - timedelta(days=rng.randrange(0, 30), minutes=rng.randrange(1440))
            elif draw < month:
                used = now - timedelta(days=rng.randrange(31, 90))
            elif draw < stale:
                used = now - timedelta(days=rng.randrange(91, 500))
            else:
                continue  # never signed in to it
            sign_ins.append((app_id(name), user_id, max(used, assigned + timedelta(hours=1))))
    seats = {name: sum(1 for a, _, _ in assignments if a == app_id(name)) for name, *_ in APPS}
    app_rows = [(app_id(name), name, label, status, mode, seats[name] if name in FULL_APPS else None) for name, label, mode, status in APPS]
    result = await conn.execute(
        "INSERT INTO okta_apps (id, name, label, status, sign_on_mode, licence_limit, created)"
        " SELECT id, name, label, status, mode, lim, $7 FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::int[]) AS a(id, name, label, status, mode, lim)"
        " ON CONFLICT (id) DO NOTHING",
        *map(list, zip(*app_rows, strict=True)), now - timedelta(days=2000),
    )
    added += int(result.split()[-1])
    result = await conn.execute(
        "INSERT INTO okta_app_users (app_id, user_id, scope, status, sync_state, created, last_updated)"
        " SELECT app, usr, 'USER', 'PROVISIONED', 'SYNCHRONIZED', at, at FROM unnest($1::text[], $2::text[], $3::timestamptz[]) AS a(app, usr, at)"
        " ON CONFLICT DO NOTHING",
        *map(list, zip(*assignments, strict=True)),
    )
    added += int(result.split()[-1])
    result = await conn.execute(
        "INSERT INTO okta_app_sign_ins (app_id, user_id, last_sign_in) SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[]) ON CONFLICT DO NOTHING",
        *map(list, zip(*sign_ins, strict=True)),
    )
    added += int(result.split()[-1])
    # Groups: everyone, their department, their country.
    names = sorted({g for p in people for g in _groups(p.department, p.country)})
    result = await conn.execute(
        "INSERT INTO okta_groups (id, name, description, type) SELECT id, name, 'Members of ' || name, CASE WHEN name = 'Everyone' THEN 'BUILT_IN' ELSE 'OKTA_GROUP' END"
        " FROM unnest($1::text[], $2::text[]) AS g(id, name) ON CONFLICT DO NOTHING",
        [group_id(n) for n in names], names,
    )
    added += int(result.split()[-1])
    members = [(group_id(g), row[0]) for row, p in zip(rows, people, strict=True) for g in _groups(p.department, p.country)]
    result = await conn.execute(
        "INSERT INTO okta_group_members (group_id, user_id) SELECT * FROM unnest($1::text[], $2::text[]) ON CONFLICT DO NOTHING",
        *map(list, zip(*members, strict=True)),
    )
    added += int(result.split()[-1])
    # Factors: most people use Okta Verify; some add SMS or an authenticator app; a few never finished enrolling.
    factors = []
    for (user_id, login, _email, _first, _last, country, _dept, status) in rows:
        if status not in WORKING:
            continue
        rng = _rng("okta-factors", login)
        chosen = FIXED_FACTORS.get(login.split("@")[0])
        if chosen is None:
            device = {"name": rng.choice(PHONES[country]), "platform": "IOS" if rng.random() < 0.6 else "ANDROID"}
            chosen = [("push", "OKTA", "ACTIVE" if rng.random() < 0.92 else "PENDING_ACTIVATION", device)]
            if rng.random() < 0.3:
                chosen.append(("sms", "OKTA", "ACTIVE", {}))
            if rng.random() < 0.15:
                chosen.append(("token:software:totp", "GOOGLE", "ACTIVE", {}))
        for kind, provider, state, extra in chosen:
            details = {"phoneNumber": phone(login, country)} if kind == "sms" else ({"credentialId": login} if kind.startswith("token") else extra)
            prefix = {"push": "opf", "sms": "mbl", "token:software:totp": "ost"}[kind]
            # A TOTP factor's secret exists only in Okta and the user's app; the seed makes one per person.
            secret = hashlib.sha256(f"totp:{login}".encode()).hexdigest()[:32].upper().translate(str.maketrans("0189", "ABCD")) if kind.startswith("token") else None
            factors.append((_id(prefix, "factor", login, kind, provider), user_id, kind, provider, state, json.dumps(details), secret, now - timedelta(days=rng.randrange(30, 900))))
    result = await conn.execute(
        "INSERT INTO okta_factors (id, user_id, factor_type, provider, status, profile, shared_secret, created, last_updated)"
        " SELECT id, usr, kind, provider, state, profile::jsonb, secret, at, at FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::timestamptz[])"
        " AS f(id, usr, kind, provider, state, profile, secret, at) ON CONFLICT DO NOTHING",
        *map(list, zip(*factors, strict=True)),
    )
    return added + int(result.split()[-1])


# --- Microsoft Entra ID ---------------------------------------------------------------------------

def entra_id(login: str) -> str:
    """The user's object id (a GUID), from their login (``name@domain``)."""
    return str(uuid.UUID(bytes=hashlib.sha256(f"entra:{login}".encode()).digest()[:16], version=4))


def entra_group_id(name: str) -> str:
    return str(uuid.UUID(bytes=hashlib.sha256(f"entra-group:{name}".encode()).digest()[:16], version=4))


def _entra_groups(department: str, country: str) -> list[str]:
    return ["All Employees", f"SG-{department}", "SG-VPN-Users", "Acme US" if country == "US" else "Acme India"]


async def seed_entra(conn: asyncpg.Connection, count: int = 300) -> int:
    """Users (enabled unless suspended, deprovisioned or not started), groups, and risky users."""
    now = datetime.now(UTC)
    rows = seed.employees(count)
    people = hr_org.org(count)[: len(rows)]
    users = []
    for (_, login, email, first, last, country, department, status), person in zip(rows, people, strict=True):
        enabled = status in WORKING - {"SUSPENDED"}
        users.append((entra_id(login), login, email, f"{first} {last}", first, last, department, person.job_title, person.employee_id, country, enabled))
    result = await conn.execute(
        "INSERT INTO entra_users (id, user_principal_name, mail, display_name, given_name, surname, department, job_title, employee_id, usage_location, account_enabled, sign_in_sessions_valid_from, created_date_time)"
        " SELECT u.*, $12, $12 FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::bool[]) AS u"
        " ON CONFLICT (id) DO NOTHING",
        *map(list, zip(*users, strict=True)), now - timedelta(days=30),
    )
    added = int(result.split()[-1])
    names = sorted({g for p in people for g in _entra_groups(p.department, p.country)})
    result = await conn.execute(
        "INSERT INTO entra_groups (id, display_name, description, mail_nickname, security_enabled, mail_enabled)"
        " SELECT id, name, 'Members of ' || name, lower(replace(name, ' ', '-')), name LIKE 'SG-%', name NOT LIKE 'SG-%' FROM unnest($1::text[], $2::text[]) AS g(id, name)"
        " ON CONFLICT DO NOTHING",
        [entra_group_id(n) for n in names], names,
    )
    added += int(result.split()[-1])
    members = [(entra_group_id(g), entra_id(p.email)) for p in people for g in _entra_groups(p.department, p.country)]
    result = await conn.execute(
        "INSERT INTO entra_group_members (group_id, user_id) SELECT * FROM unnest($1::text[], $2::text[]) ON CONFLICT DO NOTHING",
        *map(list, zip(*members, strict=True)),
    )
    added += int(result.split()[-1])
    risky = []
    for _, login, *_rest in rows[len(seed.FIXED):]:  # the named people sign in from their usual places
        rng = _rng("entra-risk", login)
        draw = rng.random()
        if draw < 0.03:
            risk = (rng.choice(["medium", "high"]), "atRisk", "none")
        elif draw < 0.06:
            risk = ("low", "atRisk", "none")
        elif draw < 0.09:
            risk = ("none", "remediated", "userPerformedSecuredPasswordReset")
        else:
            continue
        risky.append((entra_id(login), *risk, now - timedelta(days=rng.randrange(1, 60))))
    if risky:
        result = await conn.execute(
            "INSERT INTO entra_risky_users (user_id, risk_level, risk_state, risk_detail, risk_last_updated)"
            " SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::timestamptz[]) ON CONFLICT DO NOTHING",
            *map(list, zip(*risky, strict=True)),
        )
        added += int(result.split()[-1])
    return added


# --- building badges ------------------------------------------------------------------------------

ZONES = [
    ("HQ-L1", "HQ", "Austin HQ - lobby and level 1", False),
    ("HQ-L2", "HQ", "Austin HQ - level 2", False),
    ("HQ-L3", "HQ", "Austin HQ - level 3", False),
    ("HQ-L4", "HQ", "Austin HQ - level 4", False),
    ("HQ-PARK", "HQ", "Austin HQ - parking garage", False),
    ("HQ-DC", "HQ", "Austin HQ - server room", True),
    ("BLR-L1", "BLR", "Bengaluru office - reception and level 1", False),
    ("BLR-L2", "BLR", "Bengaluru office - level 2", False),
    ("BLR-L3", "BLR", "Bengaluru office - level 3", False),
    ("BLR-LAB", "BLR", "Bengaluru office - hardware lab", True),
]
#: The floor each department works on, by site.
FLOORS = {
    "HQ": {"Engineering": "HQ-L3", "IT": "HQ-L3", "Finance": "HQ-L2", "HR": "HQ-L2", "Legal": "HQ-L2", "Sales": "HQ-L4", "Marketing": "HQ-L4", "Support": "HQ-L1", "Operations": "HQ-L1"},
    "BLR": {"Engineering": "BLR-L2", "IT": "BLR-L2", "Support": "BLR-L1", "Operations": "BLR-L1"},
}
SITE = {"US": "HQ", "IN": "BLR"}


def cardholder_id(login: str) -> str:
    return "CH-" + hashlib.sha256(f"cardholder:{login}".encode()).hexdigest()[:8].upper()


def badge_number(login: str, generation: int = 0) -> str:
    return f"{int(hashlib.sha256(f'badge:{login}:{generation}'.encode()).hexdigest()[:8], 16) % 9_000_000 + 1_000_000:07d}"


async def seed_facilities(conn: asyncpg.Connection, count: int = 300) -> int:
    """Zones, a cardholder per person, and a badge for everyone who has started: active for people
    at work, suspended for a suspended account, returned by a leaver. A new hire has none yet."""
    now = datetime.now(UTC)
    result = await conn.execute(
        "INSERT INTO facilities_zones (code, site, name, restricted) SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bool[]) ON CONFLICT DO NOTHING",
        *map(list, zip(*ZONES, strict=True)),
    )
    added = int(result.split()[-1])
    holders, badges, zones = [], [], []
    for (_, login, _email, first, last, country, department, status) in seed.employees(count):
        short = login.split("@")[0]
        rng = _rng("badge", short)
        site = SITE[country]
        clearance = department == "IT" and rng.random() < 0.5
        holders.append((cardholder_id(short), login, f"{first} {last}", site, "inactive" if status == "DEPROVISIONED" else "active", clearance))
        if status == "STAGED":
            continue
        badge = badge_number(short)
        state = "returned" if status == "DEPROVISIONED" else ("suspended" if status == "SUSPENDED" else "active")
        issued = now - timedelta(days=rng.randrange(30, 1500))
        badges.append((badge, cardholder_id(short), state, issued, {"suspended": "account suspended", "returned": "left the company"}.get(state)))
        if state == "returned":
            continue
        granted = {f"{site}-L1", FLOORS[site].get(department, f"{site}-L3")}
        if site == "HQ" and rng.random() < 0.3:
            granted.add("HQ-PARK")
        if clearance:
            granted.add("HQ-DC" if site == "HQ" else "BLR-LAB")
        zones += [(badge, zone, issued) for zone in sorted(granted)]
    result = await conn.execute(
        "INSERT INTO facilities_cardholders (id, login, name, home_site, status, clearance) SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bool[])"
        " ON CONFLICT DO NOTHING",
        *map(list, zip(*holders, strict=True)),
    )
    added += int(result.split()[-1])
    result = await conn.execute(
        "INSERT INTO facilities_badges (id, holder_id, status, issued_at, status_changed, status_reason) SELECT b.id, b.holder, b.status, b.at, b.at, b.reason"
        " FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::text[]) AS b(id, holder, status, at, reason) ON CONFLICT DO NOTHING",
        *map(list, zip(*badges, strict=True)),
    )
    added += int(result.split()[-1])
    result = await conn.execute(
        "INSERT INTO facilities_badge_zones (badge_id, zone, granted_at) SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[]) ON CONFLICT DO NOTHING",
        *map(list, zip(*zones, strict=True)),
    )
    return added + int(result.split()[-1])
