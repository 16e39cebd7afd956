"""The fake org as HR and payroll know it: who works where, since when, for whom, and for how much.

Derived from ``seed.employees()`` so Workday and Payroll describe the same people as Okta: an Okta
user STAGED is a Workday *Pre-Hire*, DEPROVISIONED is *Terminated*, any other is *Active*. Each
person's HR facts come from an RNG seeded with their login, so a person's facts do not depend on
how many people are seeded; managers are chosen by position in the list, so a smaller org is the
same org, cut short. A few facts the sandbox cases rely on are fixed (``FIXED_FACTS``). Pure.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal


#: Pre-hires who exist only in Workday so far: HR records a hire before IT creates any account.
PRE_HIRES_ONLY_IN_WORKDAY = [
    # first, last, country, department
    ("meera", "krishnan", "IN", "Engineering"),
]

#: The department whose head every other department head reports to.
TOP = "Operations"

CITIES = {"US": ["New York", "Austin", "San Francisco", "Chicago"], "IN": ["Bengaluru", "Pune", "Hyderabad", "Chennai"]}
CURRENCY = {"US": "USD", "IN": "INR"}
TITLES = {
    "Engineering": ["Software Engineer", "Senior Software Engineer", "Staff Engineer", "QA Engineer"],
    "Finance": ["Financial Analyst", "Senior Accountant", "Accounts Payable Specialist", "Controller"],
    "Sales": ["Account Executive", "Sales Development Representative", "Senior Account Executive"],
    "Marketing": ["Marketing Specialist", "Content Strategist", "Product Marketing Manager"],
    "Support": ["Support Engineer", "Customer Support Specialist", "Senior Support Engineer"],
    "HR": ["HR Business Partner", "HR Generalist", "Talent Acquisition Specialist", "Payroll Specialist"],
    "Legal": ["Legal Counsel", "Paralegal", "Contracts Manager"],
    "Operations": ["Operations Analyst", "Program Manager", "Facilities Coordinator"],
    "IT": ["IT Support Specialist", "Systems Administrator", "Network Engineer"],
}

#: Facts the sandbox cases name: hire dates (years of service decide India's gratuity) and balances.
FIXED_FACTS: dict[str, dict[str, object]] = {
    "ana.silva": {"hire_date": date(2019, 3, 4), "balances": {"Vacation": Decimal("56"), "Sick": Decimal("24")}},
    "priya.sharma": {"hire_date": date(2017, 6, 12), "balances": {"Earned Leave": Decimal("18"), "Casual Leave": Decimal("4"), "Sick Leave": Decimal("7")}},
    "john.miller": {"hire_date": date(2021, 8, 16), "balances": {"Vacation": Decimal("4"), "Sick": Decimal("16")}},
    "lisa.wong": {"hire_date": date(2020, 1, 13), "balances": {"Vacation": Decimal("80"), "Sick": Decimal("40")}},
    "rahul.verma": {"hire_date": date(2018, 2, 5), "termination_date": date(2025, 9, 30)},
    "reyansh.rao": {"hire_date": date(2023, 1, 9), "balances": {"Earned Leave": Decimal("11"), "Casual Leave": Decimal("6"), "Sick Leave": Decimal("5")}},
}

#: Time-off plans by country: (plan, unit, per-day quantity, the most a seeded balance holds).
PLANS = {
    "US": [("Vacation", "Hours", Decimal("8"), 120), ("Sick", "Hours", Decimal("8"), 48)],
    "IN": [("Earned Leave", "Days", Decimal("1"), 30), ("Casual Leave", "Days", Decimal("1"), 12), ("Sick Leave", "Days", Decimal("1"), 12)],
}


@dataclass(frozen=True)
class Person:
    index: int
    wid: str  # Workday ID: 32 hex characters
    employee_id: str | None  # assigned at hire; a pre-hire has none
    login: str
    email: str
    first_name: str
    last_name: str
    country: str
    department: str
    job_title: str
    location: str
    hire_date: date  # a pre-hire's proposed start date
    status: str  # Active | Terminated | Pre-Hire
    termination_date: date | None
    manager: int | None  # index of the manager in the org
    annual_salary: Decimal
    currency: str
    balances: dict[str, Decimal]
    pan: str | None  # India's Permanent Account Number (payroll only)
    uan: str | None  # India's Universal Account Number for the provident fund (payroll only)
    w4_filing_status: str | None  # US W-4 step 1(c) (payroll only)


def wid(login: str) -> str:
    return hashlib.sha256(f"workday:{login}".encode()).hexdigest()[:32]


def start_soon(today: date) -> date:
    """A pre-hire's start date: the Monday at least a week from ``today``."""
    day = today + timedelta(days=7)
    return day + timedelta(days=(7 - day.weekday()) % 7)


def pan_for(rng: random.Random, last_name: str) -> str:
    """A PAN as the Income Tax Department issues it to an individual: three letters, P (a person),
    the surname's initial, four digits, a check letter."""
    letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    return "".join(rng.choice(letters) for _ in range(3)) + "P" + last_name[0].upper() + f"{rng.randrange(10_000):04d}" + rng.choice(letters)


def org(count: int = 300, *, today: date | None = None) -> list[Person]:
    """The org's people as HR knows them, in ``employees()`` order, then the Workday-only pre-hires."""
    from deploy.sandbox import seed  # here, not at the top: seed.py imports the HR seeders, which import this

    today = today or date.today()
    rows = [(login.split("@")[0], first, last, country, department, status) for _, login, _, first, last, country, department, status in seed.employees(count)]
    rows += [(f"{f}.{last}", f.title(), last.title(), country, department, "STAGED") for f, last, country, department in PRE_HIRES_ONLY_IN_WORKDAY]
    status_of = {"STAGED": "Pre-Hire", "DEPROVISIONED": "Terminated"}
    working = [i for i, row in enumerate(rows) if status_of.get(row[5], "Active") == "Active"]
    head: dict[str, int] = {}
    lead: dict[tuple[str, str], int] = {}
    for i in working:
        _, _, _, country, department, _ = rows[i]
        head.setdefault(department, i)
        lead.setdefault((department, country), i)
    people = []
    for i, (login, first, last, country, department, okta_status) in enumerate(rows):
        rng = random.Random(f"hr:{login}")
        facts = FIXED_FACTS.get(login, {})
        status = status_of.get(okta_status, "Active")
        if status == "Pre-Hire":
            hire = start_soon(today)
        else:
            hire = facts.get("hire_date") or date(2010, 1, 4) + timedelta(days=rng.randrange(365 * 15))
        assert isinstance(hire, date)
        ended = None
        if status == "Terminated":
            ended = facts.get("termination_date") or min(today - timedelta(days=30), hire + timedelta(days=200 + rng.randrange(1500)))
        country_lead = lead.get((department, country))
        leads = i in (head.get(department), country_lead)
        if head.get(department) == i:
            manager = head.get(TOP) if head.get(TOP) != i else None
            title = f"Head of {department}"
        elif country_lead == i:
            manager = head.get(department)
            title = f"{department} Manager"
        else:
            manager = country_lead if country_lead is not None else head.get(department)
            title = rng.choice(TITLES[department])
        if country == "US":
            salary = Decimal(rng.randrange(130, 381) * 500)
        else:
            salary = Decimal(rng.randrange(60, 451) * 10_000)
        if leads:
            salary = (salary * Decimal("1.4")).quantize(Decimal("1"))
        given = facts.get("balances")
        balances = dict(given) if isinstance(given, dict) else {plan: Decimal(rng.randrange(0, most + 1)) for plan, _, _, most in PLANS[country]}
        people.append(
            Person(
                index=i,
                wid=wid(login),
                employee_id=None if status == "Pre-Hire" else str(100001 + i),
                login=login,
                email=f"{login}@{seed.DOMAIN}",
                first_name=first,
                last_name=last,
                country=country,
                department=department,
                job_title=title,
                location=rng.choice(CITIES[country]),
                hire_date=hire,
                status=status,
                termination_date=ended if isinstance(ended, date) else None,
                manager=manager,
                annual_salary=salary,
                currency=CURRENCY[country],
                balances=balances if status == "Active" else {},
                pan=pan_for(rng, last) if country == "IN" and status != "Pre-Hire" else None,
                uan=f"10{rng.randrange(10**10):010d}" if country == "IN" and status != "Pre-Hire" else None,
                w4_filing_status=rng.choice(["single", "single", "married_filing_jointly", "head_of_household"]) if country == "US" and status != "Pre-Hire" else None,
            )
        )
    return people


def person(login: str, count: int = 300) -> Person:
    """One person of the org by login (for cases that need a seeded fact, e.g. someone's PAN)."""
    return next(p for p in org(count) if p.login == login)
