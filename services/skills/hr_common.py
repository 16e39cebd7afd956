"""What the HR skills share: finding the worker a request is about, deciding whether the requester
may act for them, and reading dates. (How Workday's and payroll's errors become a step's failure is
``failures.py``.)"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any

from contracts.events import SkillRequest
from services.skills.connectors.workday import Worker, Workday
from services.skills.failures import refused
from services.skills.skill import StepFailed

#: The department whose people may start HR processes for anyone (besides the person's own manager).
HR_DEPARTMENT = "HR"


def requester_email(request: SkillRequest) -> str:
    """Who asked: the requester of the ticket, never anyone its text names."""
    return request.ticket.requester.email or f"{request.ticket.requester.id}@acme.example"


async def requester(workday: Workday, request: SkillRequest) -> Worker:
    """The requester's own worker record."""
    with refused("Workday", f"reading the requester's worker record ({requester_email(request)})", default="worker_not_found", coworker=request.coworker):
        worker = await workday.get_worker(requester_email(request))
    return worker


async def one_worker(workday: Workday, ref: str, *, coworker: str | None = None) -> Worker:
    """The one worker ``ref`` (a name, login, email or ID) names in Workday, terminated ones included."""
    with refused("Workday", f"looking up the worker {ref!r}", default="worker_not_found", coworker=coworker):
        found = await workday.find_workers(ref)
    if not found:
        raise StepFailed("worker_not_found", f"Workday has no worker matching {ref!r}")
    if len(found) > 1:
        raise StepFailed("ambiguous_employee", f"{ref!r} matches {len(found)} workers in Workday ({', '.join(w.email for w in found)}); name one by email")
    return found[0]


def may_act_for(asker: Worker, subject: Worker) -> bool:
    """HR may start a person's hire or exit; so may the person's own manager. Nobody their own."""
    if asker.status != "Active" or asker.id == subject.id:
        return False
    return asker.department == HR_DEPARTMENT or subject.manager_id == asker.id


def authorise(asker: Worker, subject: Worker, what: str) -> None:
    if not may_act_for(asker, subject):
        raise StepFailed(
            "requester_not_authorised",
            f"{asker.name} ({asker.department}) asked to {what} {subject.name}, but only HR or {subject.name}'s manager ({subject.manager_name or 'none'}) may",
        )


def check_country(subject: Worker, country: str, skill: str) -> None:
    if subject.country != country:
        raise StepFailed("wrong_country", f"{subject.name} works in {subject.country}; {skill} is for {country} employees")


def worker_outputs(worker: Worker) -> dict[str, Any]:
    """What a step says about a worker: who, where, for whom; never their pay or their employee id."""
    return {
        "worker_id": worker.id,
        "name": worker.name,
        "email": worker.email,
        "country": worker.country,
        "department": worker.department,
        "job_title": worker.job_title,
        "status": worker.status,
        "manager": worker.manager_name,
    }


_ISO = re.compile(r"\b(\d{4})-(\d{1,2})-(\d{1,2})\b")
_WORDY = re.compile(r"\b(\d{1,2})(?:st|nd|rd|th)?\s+([A-Za-z]{3,9})\.?,?\s+(\d{4})\b|\b([A-Za-z]{3,9})\.?\s+(\d{1,2})(?:st|nd|rd|th)?,?\s+(\d{4})\b")


def _month(name: str) -> int | None:
    try:
        return datetime.strptime(name[:3].title(), "%b").month
    except ValueError:
        return None


def dates_in(text: str) -> list[date]:
    """The calendar dates written in ``text`` in an unambiguous form (2026-12-14, 14 Dec 2026,
    December 14, 2026), in order. Numeric day/month forms are skipped: 03/04 is a different day in
    the US and in India."""
    found: list[tuple[int, date]] = []
    for m in _ISO.finditer(text):
        try:
            found.append((m.start(), date(int(m[1]), int(m[2]), int(m[3]))))
        except ValueError:
            continue
    for m in _WORDY.finditer(text):
        day, month, year = (m[1], m[2], m[3]) if m[1] else (m[5], m[4], m[6])
        number = _month(month)
        if number is None:
            continue
        try:
            found.append((m.start(), date(int(year), number, int(day))))
        except ValueError:
            continue
    return [d for _, d in sorted(found)]
