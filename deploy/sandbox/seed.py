"""A realistic fake organisation for the sandboxes: a few hundred employees in the US and India.

Deterministic (seeded), so the same names exist on every machine and samples and tests can name
them. The first people are fixed, each in a status that exercises a different path.
"""

from __future__ import annotations

import hashlib
import random

import asyncpg

from deploy.sandbox.hr_seed import seed_payroll, seed_workday
from deploy.sandbox.seed_jira import seed_jira
from deploy.sandbox.seed_jumpcloud import seed_jumpcloud
from deploy.sandbox.seed_slack import seed_slack
from deploy.sandbox.seed_identity import seed_entra, seed_facilities, seed_okta_access
from deploy.sandbox.sharepoint_pages import seed_sharepoint

DOMAIN = "acme.example"

FIXED = [
    # first, last, country, department, status
    ("ana", "silva", "US", "Finance", "ACTIVE"),
    ("priya", "sharma", "IN", "Engineering", "LOCKED_OUT"),
    ("john", "miller", "US", "Sales", "PASSWORD_EXPIRED"),
    ("lisa", "wong", "US", "Marketing", "SUSPENDED"),
    ("rahul", "verma", "IN", "Support", "DEPROVISIONED"),
    ("jane", "lee", "US", "Finance", "STAGED"),
]

_FIRST = {
    "US": ["james", "mary", "robert", "patricia", "michael", "jennifer", "william", "linda", "david", "elizabeth",
           "richard", "barbara", "joseph", "susan", "thomas", "jessica", "charles", "sarah", "daniel", "karen"],
    "IN": ["aarav", "vivaan", "aditya", "vihaan", "arjun", "sai", "reyansh", "ayaan", "krishna", "ishaan",
           "ananya", "diya", "aadhya", "saanvi", "myra", "aarohi", "pari", "anika", "navya", "kavya"],
}
_LAST = {
    "US": ["smith", "johnson", "williams", "brown", "jones", "garcia", "davis", "rodriguez", "martinez", "hernandez",
           "lopez", "gonzalez", "wilson", "anderson", "taylor", "moore", "jackson", "martin", "thompson", "white"],
    "IN": ["patel", "singh", "kumar", "gupta", "reddy", "iyer", "nair", "rao", "joshi", "mehta",
           "chopra", "desai", "kapoor", "malhotra", "bhat", "agarwal", "pillai", "menon", "saxena", "bose"],
}
_DEPARTMENTS = ["Engineering", "Finance", "Sales", "Marketing", "Support", "HR", "Legal", "Operations", "IT"]


def employees(count: int = 300, *, seed: int = 42) -> list[tuple[str, ...]]:
    """``(id, login, email, first, last, country, department, status)`` rows, the same every time."""
    rng = random.Random(seed)
    people = list(FIXED)
    taken = {(f, last) for f, last, *_ in people}
    while len(people) < count:
        country = "IN" if rng.random() < 0.45 else "US"
        first, last = rng.choice(_FIRST[country]), rng.choice(_LAST[country])
        if (first, last) in taken:
            continue
        taken.add((first, last))
        status = rng.choices(["ACTIVE", "LOCKED_OUT", "PASSWORD_EXPIRED", "SUSPENDED", "DEPROVISIONED"], [88, 4, 3, 3, 2])[0]
        people.append((first, last, country, rng.choice(_DEPARTMENTS), status))
    rows = []
    for first, last, country, department, status in people:
        login = f"{first}.{last}@{DOMAIN}"
        okta_id = "00u" + hashlib.sha256(login.encode()).hexdigest()[:17]
        rows.append((okta_id, login, login, first.title(), last.title(), country, department, status))
    return rows


async def seed_okta(conn: asyncpg.Connection, count: int = 300) -> int:
    """Insert the fake org into the Okta sandbox if it is not there; return how many were added."""
    result = await conn.execute(
        "INSERT INTO okta_users (id, login, email, first_name, last_name, country, department, status)"
        " SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[])"
        " ON CONFLICT (id) DO NOTHING",
        *map(list, zip(*employees(count), strict=True)),
    )
    return int(result.split()[-1])


#: Every sandbox's seeder, in order (later ones may read what earlier ones put in).
SEEDERS = (seed_okta, seed_jumpcloud, seed_jira, seed_slack, seed_workday, seed_payroll, seed_okta_access, seed_entra, seed_sharepoint, seed_facilities)


async def seed_sandboxes(conn: asyncpg.Connection, count: int = 300) -> dict[str, int]:
    """Seed every sandbox with the same fake org; return how many rows each seeder added."""
    return {seeder.__name__.removeprefix("seed_"): await seeder(conn, count) for seeder in SEEDERS}
