"""What a requester or an agent reads on the upstream ticket."""

from __future__ import annotations

from services.desk.writeback import notes
from tests.unit.desk.test_writeback_plan import created, escalated_event, question_event, resolved_event, split_event


def test_the_handoff_note_carries_what_was_asked_tried_why_and_what_to_do_first() -> None:
    event = escalated_event(created("servicenow:abc"))
    text = notes.handoff(event.data, group="group it-desk", system="servicenow")
    for expected in (
        "Escalated to a person (queue it-desk, skill failed). Reassigned to group it-desk.",
        "What was asked\nVPN drops every hour\nSince Monday, on the office wifi.\nRequester: ana.silva@acme.example",
        "What was tried\n- okta users.read: succeeded (account active)\n- vpn profile reset: failed (gateway refused)",
        "Why it needs a person\nThe VPN fix failed at the gateway.\nThe VPN gateway logs show the account locked by policy",
        "What we know\n- category: network\n- priority: P3\n- device: LT-2231",
        "What to do first\nUnlock the VPN account on the gateway, then ask Ana to reconnect.",
        "Skills considered\n- vpn-fix (jordan): 0.42",
    ):
        assert expected in text, expected


def test_a_question_asks_the_requester_to_reply_on_the_ticket() -> None:
    text = notes.question(question_event(created("zendesk:1")).data)
    assert text.startswith("Which laptop are you on") and "reply on this ticket" in text


def test_a_resolution_says_what_was_done() -> None:
    assert notes.resolution(resolved_event(created("zendesk:1")).data) == "Resolved: Reset your VPN profile; the drops stopped."


def test_the_split_note_lists_each_child_with_its_upstream_id_once_made() -> None:
    data = split_event(created("jira:1")).data
    before = notes.split(data)
    after = notes.split(data, [(data.children[0], "IT-8")])
    assert "- Reset my password (skill password-reset)" in before and "- Order a second monitor (skill hardware-order)" in before
    assert "- Reset my password: IT-8 (skill password-reset)" in after


def test_a_long_note_is_cut_to_the_systems_limit_and_keeps_its_marker() -> None:
    body = "x" * 10_000
    for system, limit in notes.LIMITS.items():
        text = notes.finish(body * 10, "evt-1", system)
        assert len(text) <= limit and text.endswith("\n\n[workforce:evt-1]")
    short = notes.finish("Hello", "evt-1", "servicenow")
    assert short == "Hello\n\n[workforce:evt-1]"
    assert "[…shortened]" in notes.finish(body, "evt-1", "servicenow")


def test_a_child_marker_differs_from_the_events_own() -> None:
    assert notes.marker("e", 1) == "[workforce:e#1]" and notes.marker("e") not in notes.marker("e", 1)
