"""Who asked, decided without the directory: the ticket's requester id and email bound to one person
(or why not), whose answer counts, and what a step record shows of a step's outputs."""

from __future__ import annotations

import pytest

from contracts.envelope import Actor
from contracts.events import Requester
from services.skills.connectors.okta import User
from services.skills.identity import MISMATCH, Person, Unbound, bind, not_the_requester
from services.skills.skill import shown


def user(login: str, uid: str) -> User:
    return User(id=uid, login=f"{login}@acme.example", email=f"{login}@acme.example", first_name="x", last_name="y", status="ACTIVE", country="US")


ANA, JOHN = user("ana.silva", "00uana"), user("john.miller", "00ujohn")
ANA_PERSON = Person("00uana", "ana.silva@acme.example", "ana.silva@acme.example")


def test_an_id_and_an_email_of_the_same_person_bind_to_them() -> None:
    assert bind(Requester(id="ana.silva", email="ana.silva@acme.example"), ANA, ANA) == ANA_PERSON
    assert bind(Requester(id="00uana", email="Ana.Silva@ACME.example"), ANA, ANA) == ANA_PERSON
    assert bind(Requester(id="ana.silva"), ANA, None) == ANA_PERSON  # an id alone the directory knows


@pytest.mark.parametrize(
    ("requester", "by_id", "by_email", "reason"),
    [
        (Requester(id="ghost.fuzzer", email="ana.silva@acme.example"), None, ANA,
         "the requester's id 'ghost.fuzzer' is no one the directory (okta) knows, but their email ana.silva@acme.example is ana.silva@acme.example"),
        (Requester(id="john.miller", email="ana.silva@acme.example"), JOHN, ANA,
         "the requester's id 'john.miller' is john.miller@acme.example in the directory (okta), but their email ana.silva@acme.example is ana.silva@acme.example: two different people"),
        (Requester(id="ana.silva", email="ana@elsewhere.example"), ANA, None,
         "the requester's email ana@elsewhere.example is no one the directory (okta) knows, but their id 'ana.silva' is ana.silva@acme.example"),
        (Requester(id="nobody", email="nobody@acme.example"), None, None, "neither the requester's id 'nobody' nor their email nobody@acme.example is anyone the directory (okta) knows"),
        (Requester(id="nobody"), None, None, "the requester's id 'nobody' is no one the directory (okta) knows, and the ticket gives no email"),
        # the directory answered with someone the id or email does not actually name
        (Requester(id="ana", email="ana.silva@acme.example"), ANA, ANA, "the requester's id 'ana' is no one the directory (okta) knows, but their email ana.silva@acme.example is ana.silva@acme.example"),
    ],
    ids=["made-up id, a colleague's email", "two people", "unknown email", "neither known", "unknown id, no email", "a name the directory stretched"],
)
def test_a_requester_who_is_not_one_person_is_not_bound_and_the_reason_says_what_disagreed(requester: Requester, by_id: User | None, by_email: User | None, reason: str) -> None:
    with pytest.raises(Unbound) as unbound:
        bind(requester, by_id, by_email)
    assert (unbound.value.code, unbound.value.reason) == (MISMATCH, reason)


def test_only_the_requester_answers_for_themself() -> None:
    ana = Requester(id="ana.silva", email="ana.silva@acme.example")
    for own in ("ana.silva", "Ana.Silva", "ana.silva@acme.example", "00uana"):
        assert not_the_requester(Actor.human(own), ana, ANA_PERSON) is None
    for other in (Actor.human("john.miller"), Actor.coworker("ana.silva"), Actor.system("ana.silva")):
        assert not_the_requester(other, ana, ANA_PERSON) == (
            f"the answer came from {other}, not from the requester human:ana.silva the question was asked of; it was not applied and the request keeps waiting"
        )
    # a request asked before requesters were resolved: the ticket's own names count
    assert not_the_requester(Actor.human("ana.silva@acme.example"), ana, None) is None
    assert not_the_requester(Actor.human("john.miller"), ana, None) is not None


def test_a_record_shows_neither_internal_values_nor_personal_identifiers() -> None:
    outputs = {"worker_id": "w1", "name": "Ana Silva", "_employee_id": "100001", "_payroll_id": "PR-US-100001", "employee_id": "100001", "uan": "100987654321"}
    assert shown(outputs) == {"worker_id": "w1", "name": "Ana Silva"}
