"""Seed the Workday and payroll sandboxes with the fake org (``hr_org``): one insert per table,
idempotent (``ON CONFLICT DO NOTHING``), the same people and facts on every run."""

from __future__ import annotations

import json
from datetime import date, timedelta

import asyncpg

from deploy.sandbox import hr_org, paycalc


async def seed_workday(conn: asyncpg.Connection, count: int = 300) -> int:
    """Workers (with managers and compensation) and their time-off balances; return how many workers were added."""
    today = date.today()
    people = hr_org.org(count, today=today)
    wid = {p.index: p.wid for p in people}
    workers = [
        (p.wid, p.employee_id, p.email, p.first_name, p.last_name, p.country, p.department, p.job_title, p.location, p.hire_date,
         wid.get(p.manager) if p.manager is not None else None, p.status, p.annual_salary, p.currency, p.termination_date,
         "Voluntary > Resignation" if p.status == "Terminated" else None)
        for p in people
    ]
    result = await conn.execute(
        "INSERT INTO workday_workers (id, employee_id, email, first_name, last_name, country, department, job_title, location, hire_date,"
        " manager_id, status, annual_salary, currency, termination_date, termination_reason)"
        " SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[],"
        " $10::date[], $11::text[], $12::text[], $13::numeric[], $14::text[], $15::date[], $16::text[]) ON CONFLICT DO NOTHING",
        *map(list, zip(*workers, strict=True)),
    )
    balances = [(p.wid, plan, amount, today) for p in people for plan, amount in p.balances.items()]
    await conn.execute(
        "INSERT INTO workday_time_off_balances (worker_id, plan, balance, as_of)"
        " SELECT * FROM unnest($1::text[], $2::text[], $3::numeric[], $4::date[]) ON CONFLICT DO NOTHING",
        *map(list, zip(*balances, strict=True)),
    )
    return int(result.split()[-1])


def _periods(today: date, months: int = 3) -> list[date]:
    """The first days of the last ``months`` complete months, oldest first."""
    first = today.replace(day=1)
    out = []
    for _ in range(months):
        first = (first - timedelta(days=1)).replace(day=1)
        out.append(first)
    return out[::-1]


def _last_business_day(first: date) -> date:
    day = (first + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    while day.weekday() >= 5:
        day -= timedelta(days=1)
    return day


async def seed_payroll(conn: asyncpg.Connection, count: int = 300) -> int:
    """Everyone hired so far enrolled in payroll, and the last three months' payslips of those still
    employed; return how many employees were added."""
    today = date.today()
    paid = [p for p in hr_org.org(count, today=today) if p.status != "Pre-Hire"]
    employees = [
        (f"PR-{p.country}-{p.employee_id}", p.wid, p.employee_id, f"{p.first_name} {p.last_name}", p.country, p.currency, p.location, p.annual_salary,
         p.hire_date, p.status, p.w4_filing_status, p.w4_filing_status is not None if p.country == "US" else None,
         "Section 2 complete" if p.country == "US" else None, p.pan, p.uan, True if p.country == "IN" else None)
        for p in paid
    ]
    result = await conn.execute(
        "INSERT INTO payroll_employees (id, worker_id, employee_id, name, country, currency, location, annual_salary, hire_date, status,"
        " w4_filing_status, w4_furnished, i9_status, pan, uan, pf_member)"
        " SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::numeric[], $9::date[],"
        " $10::text[], $11::text[], $12::boolean[], $13::text[], $14::text[], $15::text[], $16::boolean[]) ON CONFLICT DO NOTHING",
        *map(list, zip(*employees, strict=True)),
    )
    slips = []
    for p in paid:
        if p.status != "Active":
            continue
        pay = paycalc.monthly(p.country, p.annual_salary, location=p.location, filing_status=p.w4_filing_status)
        for period in _periods(today):
            if p.hire_date > period:
                continue  # paid from the first full month after they joined
            employee = f"PR-{p.country}-{p.employee_id}"
            deductions = json.dumps({k: str(v) for k, v in pay.deductions.items()})
            slips.append((f"PS-{employee}-{period:%Y%m}", employee, period, _last_business_day(period), p.currency, pay.gross, deductions, pay.total_deductions, pay.net))
    if slips:
        await conn.execute(
            "INSERT INTO payroll_payslips (id, employee, period, pay_date, currency, gross, deductions, total_deductions, net)"
            " SELECT id, employee, period, pay_date, currency, gross, deductions::jsonb, total, net"
            " FROM unnest($1::text[], $2::text[], $3::date[], $4::date[], $5::text[], $6::numeric[], $7::text[], $8::numeric[], $9::numeric[])"
            " AS s (id, employee, period, pay_date, currency, gross, deductions, total, net) ON CONFLICT DO NOTHING",
            *map(list, zip(*slips, strict=True)),
        )
    return int(result.split()[-1])
