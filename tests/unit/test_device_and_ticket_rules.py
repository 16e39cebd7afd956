"""The pure rules behind the device, incident and purchase skills: which metric explains a symptom,
what a remote command may run, an incident's priority, and what Jira is sent."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from contracts.events import Requester, Ticket
from services.skills import diagnosis
from services.skills.connectors.jira import JiraError, Query
from services.skills.connectors.jira_http import adf, idempotency_label, issue_from, plain
from services.skills.connectors.jumpcloud import App, Health, Process, script
from services.skills.incidents import priority, service_label
from services.skills.purchases import item_label, quantity

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def health(**changes: object) -> Health:
    """A healthy 16 GB laptop, changed by ``changes``."""
    base = Health(
        system_id="s1", collected_at=NOW - timedelta(minutes=10), cpu_load_pct=15.0, memory_total_gb=16, memory_used_pct=55.0,
        disk_total_gb=512, disk_free_gb=200.0, cache_gb=5.0, battery_health_pct=93.0, battery_cycles=200, uptime_days=2.0,
        pending_patches=(), processes=(Process("WindowServer", 300, 4.0, 450), Process("Google Chrome", 900, 3.0, 1200)),
        apps=(App("Google Chrome", "124.0", "running", 0), App("Microsoft Outlook", "16.84", "running", 0)), fde_active=True,
    )
    return replace(base, **changes)


def explain(h: Health, symptom: str = "my laptop is slow", answer: str | None = None) -> diagnosis.Finding | diagnosis.Ask:
    return diagnosis.explain(h, symptom, answer=answer, now=NOW)


def test_normal_metrics_do_not_settle_slowness_so_the_requester_is_asked_where() -> None:
    asked = explain(health())
    assert isinstance(asked, diagnosis.Ask) and asked.field == "slow_where"
    assert "CPU (15%)" in asked.question and "one app" in asked.question


def test_a_runaway_app_is_restarted_and_a_runaway_process_is_stopped() -> None:
    teams = health(memory_used_pct=94.0, processes=(Process("Microsoft Teams", 7, 60.0, 9000),), apps=(App("Microsoft Teams", "24", "hung", 0),))
    assert explain(teams).fix == diagnosis.Fix("restart_app", "Microsoft Teams")
    node = health(cpu_load_pct=95.0, processes=(Process("node", 8, 88.0, 2000),))
    found = explain(node)
    assert (found.problem, found.fix) == ("cpu_hog", diagnosis.Fix("kill_process", "node"))


def test_the_os_and_the_security_agent_are_never_stopped_remotely() -> None:
    found = explain(health(cpu_load_pct=92.0, processes=(Process("MsMpEng.exe", 9, 86.0, 400),)))
    assert found.fix is None and "security agent" in found.why_not


def test_a_full_disk_is_cleared_only_when_the_caches_would_free_enough() -> None:
    assert explain(health(disk_free_gb=15.0, cache_gb=80.0), "disk full").fix == diagnosis.Fix("clear_cache")
    own_files = explain(health(disk_free_gb=15.0, cache_gb=3.0), "disk full")
    assert own_files.problem == "disk_full" and own_files.fix is None and "own files" in own_files.why_not


def test_weeks_of_uptime_with_memory_leaked_everywhere_is_fixed_by_a_restart() -> None:
    assert explain(health(uptime_days=40.0, memory_used_pct=91.0)).fix == diagnosis.Fix("reboot")


def test_a_worn_battery_is_a_repair_but_only_when_the_battery_is_the_complaint() -> None:
    worn = health(battery_health_pct=58.0, battery_cycles=1200)
    assert explain(worn, "battery drains in an hour").problem == "failing_battery"
    assert isinstance(explain(worn, "laptop is slow"), diagnosis.Ask)


def test_stale_data_is_not_diagnosed() -> None:
    found = explain(health(collected_at=NOW - timedelta(days=9), cpu_load_pct=99.0))
    assert found.problem == "offline" and found.fix is None


def test_the_answer_settles_it_one_app_or_a_half_installed_update() -> None:
    assert explain(health(), answer="only in outlook").fix == diagnosis.Fix("restart_app", "Microsoft Outlook")
    assert explain(health(pending_patches=("KB1",)), answer="since the last update").fix == diagnosis.Fix("install_patches")
    assert explain(health(), answer="since the last update").fix is None
    assert explain(health(), answer="everywhere").problem == "unexplained"


def test_a_crashing_app_is_repaired_and_a_hung_one_restarted() -> None:
    crashed = App("Microsoft Outlook", "16.84", "crashed", 6)
    assert diagnosis.app_problem(health(apps=(crashed,)), crashed, now=NOW).fix == diagnosis.Fix("repair_app", "Microsoft Outlook")
    hung = App("Microsoft Teams", "24", "hung", 0)
    assert diagnosis.app_problem(health(apps=(hung,)), hung, now=NOW).fix == diagnosis.Fix("restart_app", "Microsoft Teams")


def test_a_fix_counts_only_when_its_metric_recovered() -> None:
    assert diagnosis.still("disk_full", None, health(disk_free_gb=20.0)) is not None
    assert diagnosis.still("disk_full", None, health()) is None
    back = health(memory_used_pct=93.0, processes=(Process("CrashPlanService", 9, 70.0, 9000),))
    assert "started again" in (diagnosis.still("memory_pressure", "CrashPlanService", back) or "")


def test_only_a_plain_name_reaches_a_devices_shell() -> None:
    assert script("Mac OS X", "kill_process", "node") == 'pkill -x "node"'
    for bad in ['node"; rm -rf ~', "$(reboot)", "", None]:
        with pytest.raises(ValueError):
            script("Windows", "restart_app", bad)
    with pytest.raises(ValueError, match="unknown action"):
        script("Windows", "format_disk", None)


def ticket(text: str, *, vip: bool = False) -> Ticket:
    return Ticket(ticket_id="T-1", title=text, description=text, requester=Requester(id="ana.silva", vip=vip))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("vpn is down for everyone", "Highest"),
        ("vpn is slow for everyone", "High"),
        ("email is down for our team", "High"),
        ("wifi keeps dropping on our floor", "Medium"),
        ("outlook is slow for me", "Low"),
    ],
)
def test_incident_priority_is_impact_times_urgency(text: str, expected: str) -> None:
    assert priority(ticket(text))[0] == expected


def test_a_vip_raises_an_incident_by_one_level() -> None:
    assert priority(ticket("outlook is slow for me", vip=True)) == ("Medium", "impact one person, urgency degraded; raised one level: VIP requester")


def test_services_and_items_become_labels_jira_accepts() -> None:
    assert [service_label(s) for s in ("the VPN I think", "Wi-Fi", "Outlook", "our billing portal")] == ["vpn", "wifi", "email", "our-billing-portal"]
    assert [item_label(s) for s in ("monitors", "a docking station", "Software License", "ergonomic chair")] == ["monitor", "docking-station", "software-licence", "ergonomic-chair"]
    assert quantity("need to buy two monitors", "monitor") == 2
    assert quantity("order 3 x headsets", "headset") == 3
    assert quantity("please raise a purchase order", "docking-station") == 1


def test_searches_are_sent_as_jql_with_values_quoted() -> None:
    jql = Query(project="INC", labels=("vpn", 'a"b'), open_only=True, exclude=("INC-1",)).jql()
    assert jql == 'project = "INC" AND labels = "vpn" AND labels = "a\\"b" AND statusCategory != Done AND key not in ("INC-1") ORDER BY created DESC'


def test_descriptions_travel_as_adf_and_come_back_as_text() -> None:
    text = "VPN is down.\nSince 9am.\n\nReported by ana.silva."
    document = adf(text)
    assert document["type"] == "doc" and document["version"] == 1 and len(document["content"]) == 2
    assert plain(document) == text


def test_an_issue_is_read_from_jiras_json_with_its_links_as_jira_shows_them() -> None:
    issue = issue_from({
        "id": "10001", "key": "INC-13",
        "fields": {
            "summary": "VPN down", "description": adf("down"), "issuetype": {"name": "Incident"}, "project": {"key": "INC"},
            "priority": {"name": "High"}, "status": {"name": "Open", "statusCategory": {"key": "new"}}, "labels": ["vpn"],
            "reporter": {"accountId": "5b10", "displayName": "Jordan"}, "created": "2026-11-25T10:00:00.000+0000",
            "issuelinks": [{"type": {"name": "Relates", "inward": "relates to", "outward": "relates to"}, "outwardIssue": {"key": "INC-6"}}],
        },
    })
    assert (issue.key, issue.priority, issue.status_category, issue.description, issue.reporter) == ("INC-13", "High", "new", "down", "Jordan")
    assert [(link.label, link.key) for link in issue.links] == [("relates to", "INC-6")]


def test_jiras_error_body_keeps_its_field_errors() -> None:
    error = JiraError(400, [], {"summary": "You must specify a summary of the issue."})
    assert (error.code, error.transient, error.body) == ("errors.summary", False, {"errorMessages": [], "errors": {"summary": "You must specify a summary of the issue."}})
    assert JiraError(429, ["Rate limit exceeded."]).transient and JiraError(503).transient


def test_the_idempotency_label_is_stable_and_a_valid_label() -> None:
    assert idempotency_label("T-1:incident-triage:2") == idempotency_label("T-1:incident-triage:2") != idempotency_label("T-1:incident-triage:3")
    assert " " not in idempotency_label("a key with spaces")
