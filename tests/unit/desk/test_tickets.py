"""Where a requester's answer goes: the flow and team of the ticket it was written on."""

from __future__ import annotations

from contracts.envelope import Actor
from contracts.events import Answer, TicketAnswered
from services.desk.tickets import Registered, in_flow
from services.desk.writeback.plan import UpstreamTicket


def answer(ticket_id: str, team: str) -> TicketAnswered:
    return TicketAnswered.create(Answer(ticket_id=ticket_id, text="It is GitHub."), source="/upstream/jira", team=team, actor=Actor.human("ana.silva"),
                                 correlation_id=ticket_id, subject=ticket_id, upstream="jira:10077")


def test_an_answer_takes_the_team_the_ticket_was_taken_in_by() -> None:
    registered = Registered(ticket_id="IT-7", team="hr", ticket=UpstreamTicket("jira", "10077", "IT-7", project="IT"))
    given = answer("IT-7", "it-support")
    moved = in_flow(given, registered)
    assert (moved.team, moved.correlation_id, moved.data.ticket_id) == ("hr", "IT-7", "IT-7")
    assert (moved.id, moved.upstream, moved.actor) == (given.id, given.upstream, given.actor), "the derived id, the upstream ticket and the author stay"


def test_an_answer_on_a_splits_linked_ticket_is_that_parts_in_its_parents_flow() -> None:
    part = Registered(ticket_id="IT-7-2", team="it-support", parent_id="IT-7", ticket=UpstreamTicket("jira", "IT-9", "IT-9", project="IT"))
    moved = in_flow(answer("IT-9", "it-support"), part)
    assert (moved.correlation_id, moved.subject, moved.data.ticket_id) == ("IT-7", "IT-7-2", "IT-7-2")
