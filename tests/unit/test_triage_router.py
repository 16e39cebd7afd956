"""The skill router: plain employee requests reach the skill built for them, what no skill serves
goes to a person, and text that is not a workplace request is never acted on. The phrasings here
were written for these tests (the catalog's examples and the benchmark's set are elsewhere)."""

from __future__ import annotations

import pytest

from contracts.catalog import load_catalog
from services.triage.cleaning import request_text
from services.triage.router import NO_SKILL, SkillRouter, training_data
from services.triage.settings import DEFAULT_CATALOG
from tests.conftest import FIXTURES

CATALOG = load_catalog(DEFAULT_CATALOG)

PLAIN = [
    ("Hey, can somebody unlock my account? I typed the wrong password too many times.", "password-reset"),
    ("I dropped my phone in the lake and now I can't approve the Okta sign-in prompts", "mfa-recovery"),
    ("Could I get a Tableau licence assigned to me so I can open the sales dashboards?", "app-access"),
    ("Word freezes every single time I try to open a document from SharePoint", "app-crash"),
    ("My laptop fan is super loud and it overheats after ten minutes", "laptop-troubleshoot"),
    ("How many days of PTO have I got left for this year?", "leave-balance"),
    ("I'd like to take next Thursday and Friday off as vacation", "leave-request"),
    ("Nobody on the 4th floor can connect to the wifi, it's been down for an hour", "incident-triage"),
    ("We need to order three docking stations for the new interns", "purchase-request"),
]


def test_plain_requests_reach_the_skill_built_for_them(skill_router: SkillRouter) -> None:
    routes = skill_router.read([text for text, _ in PLAIN])
    got = [(r.skill if r.confident else None) for r in routes]
    assert got == [skill for _, skill in PLAIN]
    assert all(not r.rejected for r in routes), "a real request is never taken for small talk"


def test_text_that_is_not_a_ticket_is_held_back(skill_router: SkillRouter) -> None:
    lines = [line.strip() for line in (FIXTURES / "out_of_scope_lines.txt").read_text(encoding="utf-8").splitlines() if line.strip()]
    assert len(lines) >= 100
    routes = skill_router.read(lines)
    acted_on = [line for line, r in zip(lines, routes, strict=True) if r.confident and not r.rejected]
    assert len(acted_on) <= 0.02 * len(lines), f"{len(acted_on)} of {len(lines)} non-tickets would be routed to a skill: {acted_on[:10]}"
    assert sum(r.rejected for r in routes) >= 0.9 * len(lines)


def test_a_request_no_skill_serves_is_not_forced_onto_one(skill_router: SkillRouter) -> None:
    (route,) = skill_router.read(["The hot water tap in the 2nd floor kitchen has been dripping all week, can facilities fix it?"])
    assert not route.confident and not route.rejected


def test_thresholds_come_from_predictions_on_training_text_the_models_did_not_see(skill_router: SkillRouter) -> None:
    trained = skill_router.trained
    assert 0.5 < trained["skill_threshold"] <= 1.0 and 0.0 < trained["gate_threshold"] < 1.0
    assert trained["skill_texts"] >= sum(1 + len(s.examples) for s in CATALOG.skills)
    assert NO_SKILL in skill_router.classes and {s.name for s in CATALOG.skills} <= set(skill_router.classes)


def test_the_router_learns_skills_whole_tickets_no_skill_requests_and_non_tickets() -> None:
    data = training_data(CATALOG, tickets=[("long story... anyway my password expired", "password-reset"), ("x", "no-such-skill")], not_tickets=["tell me a joke"], no_skill=["desk chair broken"])
    taught = dict(zip(data.skill_texts, data.skill_labels, strict=True))
    assert taught["long story... anyway my password expired"] == "password-reset" and taught["desk chair broken"] == NO_SKILL
    assert "x" not in taught, "a skill the catalog does not have teaches nothing"
    assert set(data.skill_texts) == set(data.tickets) and data.not_tickets == ["tell me a joke"]


@pytest.mark.parametrize(
    ("text", "kept", "dropped"),
    [
        ("Outlook crashes on start.\n\nThanks,\nMaria Lopez\nSenior Analyst | Finance\n+1 512 555 0100", "Outlook crashes on start.", "Senior Analyst"),
        ("FYI see below\n-----Original Message-----\nFrom: Raj\nSent: Monday\nSubject: help\n> my badge stopped opening the lab door", "my badge stopped opening the lab door", "From: Raj"),
        ("Need Figma access.\nSent from my iPhone", "Need Figma access.", "iPhone"),
        ("Printer jammed.\nThis email and any attachments are confidential and intended solely for the addressee.", "Printer jammed.", "confidential"),
    ],
)
def test_mail_noise_is_not_read_as_the_request(text: str, kept: str, dropped: str) -> None:
    cleaned = request_text(text)
    assert kept in cleaned and dropped not in cleaned


def test_cleaning_never_leaves_a_ticket_empty() -> None:
    assert request_text("Thanks,") == "Thanks,"
