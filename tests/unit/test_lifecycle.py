"""A coworker's lifecycle: every valid transition, and every invalid one refused with a clear reason."""

from __future__ import annotations

import pytest

from contracts.catalog import load_catalog
from contracts.coworkers import LifecycleState
from contracts.events import CoworkerCommand
from deploy.coworkers import example_workforce
from services.governance.lifecycle import Accepted, Coworker, Refused, decide
from services.governance.settings import DEFAULT_CATALOG

WORKFORCE = example_workforce()
REQUIREMENTS = load_catalog(DEFAULT_CATALOG).requirements
JORDAN = WORKFORCE["jordan"]
OTHERS = {name: Coworker(name, LifecycleState.active, {1: m}, active_version=1) for name, m in WORKFORCE.items()}


def run(current: Coworker | None, command: str, manifest=None) -> Accepted | Refused:  # noqa: ANN001
    return decide(current, CoworkerCommand(command=command, coworker="jordan", manifest=manifest), requirements=REQUIREMENTS, others=OTHERS)


def at(state: LifecycleState, *, draft: bool = False) -> Coworker:
    versions = {1: JORDAN, 2: JORDAN.model_copy(update={"tone": "terse"})} if draft else {1: JORDAN}
    return Coworker("jordan", state, versions, active_version=None if state is LifecycleState.draft else 1, draft_version=2 if draft else (1 if state is LifecycleState.draft else None), revision=3)


def test_a_new_coworker_starts_as_a_draft_and_goes_live_when_published() -> None:
    applied = run(None, "apply", JORDAN)
    assert isinstance(applied, Accepted) and applied.coworker.state is LifecycleState.draft and applied.version == 1
    published = run(applied.coworker, "publish")
    assert isinstance(published, Accepted)
    assert (published.coworker.state, published.coworker.active_version, published.coworker.draft_version) == (LifecycleState.active, 1, None)
    assert published.coworker.revision == applied.coworker.revision + 1


def test_editing_an_active_coworker_makes_a_draft_beside_the_live_version_until_published() -> None:
    live = at(LifecycleState.active)
    edited = run(live, "apply", JORDAN.model_copy(update={"tone": "terse"}))
    assert isinstance(edited, Accepted)
    assert (edited.coworker.state, edited.coworker.active_version, edited.coworker.draft_version) == (LifecycleState.active, 1, 2)
    swapped = run(edited.coworker, "publish")
    assert isinstance(swapped, Accepted) and (swapped.coworker.active_version, swapped.coworker.draft_version) == (2, None)


def test_applying_the_same_manifest_again_changes_nothing() -> None:
    live = at(LifecycleState.active)
    again = run(live, "apply", JORDAN)
    assert isinstance(again, Accepted) and again.coworker == live and not again.new_version


@pytest.mark.parametrize(
    ("state", "command", "to"),
    [
        (LifecycleState.active, "suspend", LifecycleState.suspended),
        (LifecycleState.suspended, "resume", LifecycleState.active),
        (LifecycleState.active, "offboard", LifecycleState.offboarded),
        (LifecycleState.suspended, "offboard", LifecycleState.offboarded),
        (LifecycleState.draft, "offboard", LifecycleState.offboarded),
    ],
)
def test_valid_transitions(state: LifecycleState, command: str, to: LifecycleState) -> None:
    outcome = run(at(state), command)
    assert isinstance(outcome, Accepted) and outcome.coworker.state is to and outcome.from_state is state


@pytest.mark.parametrize(
    ("current", "command", "reason"),
    [
        (None, "publish", "there is no coworker 'jordan'; apply a manifest first"),
        (at(LifecycleState.draft), "suspend", "coworker 'jordan' is draft; only an active coworker can be suspended"),
        (at(LifecycleState.active), "resume", "coworker 'jordan' is active; only an suspended coworker can be resumed"),
        (at(LifecycleState.active), "publish", "coworker 'jordan' has no draft to publish (active version 1)"),
        (at(LifecycleState.suspended, draft=True), "publish", "coworker 'jordan' is suspended; resume it before publishing a new version"),
        (at(LifecycleState.offboarded), "resume", "coworker 'jordan' is offboarded; an offboarded coworker cannot be resumed"),
        (at(LifecycleState.offboarded), "apply", "an offboarded coworker cannot be edited"),
        (at(LifecycleState.offboarded), "offboard", "cannot be offboarded"),
    ],
)
def test_invalid_transitions_are_refused_with_the_reason(current: Coworker | None, command: str, reason: str) -> None:
    outcome = run(current, command, JORDAN if command == "apply" else None)
    assert isinstance(outcome, Refused) and reason in outcome.reason


def test_a_coworker_without_a_manager_cannot_be_activated() -> None:
    draft = run(None, "apply", JORDAN.model_copy(update={"manager": None}))
    assert isinstance(draft, Accepted)
    refused = run(draft.coworker, "publish")
    assert isinstance(refused, Refused) and "without a named human manager cannot be activated" in refused.reason


def test_a_manifest_granting_too_little_for_its_skills_is_refused_at_apply() -> None:
    refused = run(None, "apply", JORDAN.model_copy(update={"tools": {"okta": ["users.read"]}}))
    assert isinstance(refused, Refused)
    assert "tools.okta: skill 'password-reset' needs users.reset_password; granted: users.read" in refused.reason


def test_a_manifest_for_another_coworker_is_refused() -> None:
    refused = run(None, "apply", WORKFORCE["bob"])
    assert isinstance(refused, Refused) and "the manifest is for 'bob', not 'jordan'" in refused.reason


def test_publishing_a_version_that_would_make_delegation_loop_is_refused() -> None:
    looping = WORKFORCE["device-agent"].model_copy(update={"sub_agents": ["jordan"]})
    draft = Coworker("device-agent", LifecycleState.active, {1: WORKFORCE["device-agent"], 2: looping}, active_version=1, draft_version=2)
    refused = decide(draft, CoworkerCommand(command="publish", coworker="device-agent"), requirements=REQUIREMENTS, others=OTHERS)
    assert isinstance(refused, Refused) and "delegation from 'device-agent' would come back to it" in refused.reason


def test_only_the_coworkers_manager_or_an_administrator_may_command_it() -> None:
    from contracts.envelope import Actor
    from services.governance.lifecycle import authorised

    admins = frozenset({"workforce.admin"})
    manager = Actor.human(JORDAN.manager.handle)
    live = at(LifecycleState.active)
    for command in ("suspend", "resume", "offboard", "publish"):
        asked = CoworkerCommand(command=command, coworker="jordan")
        assert authorised(live, asked, manager, admins=admins) is None
        assert authorised(live, asked, Actor.human("workforce.admin"), admins=admins) is None
        refused = authorised(live, asked, Actor.human("mallory.nobody"), admins=admins)
        assert isinstance(refused, Refused) and f"its manager human:{JORDAN.manager.handle}" in refused.reason
        assert isinstance(authorised(live, asked, Actor.system("anything"), admins=admins), Refused)
    # A new coworker: by an administrator, or by the manager its manifest names (who answers for it).
    shadow = CoworkerCommand(command="apply", coworker="jordan", manifest=JORDAN)
    assert authorised(None, shadow, manager, admins=admins) is None
    assert isinstance(authorised(None, shadow, Actor.human("mallory.nobody"), admins=admins), Refused)
    # Handing a coworker to another manager is its current manager's call, not the new one's.
    handed = CoworkerCommand(command="apply", coworker="jordan", manifest=JORDAN.model_copy(update={"manager": JORDAN.manager.model_copy(update={"email": "mallory.nobody@acme.example"})}))
    assert isinstance(authorised(live, handed, Actor.human("mallory.nobody"), admins=admins), Refused)
    assert authorised(live, handed, manager, admins=admins) is None
