"""The Kafka ACLs shipped with the deploy files: the registry's writers, the services' own reads."""

from __future__ import annotations

import ast
import importlib
from collections import defaultdict
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from contracts import topics
from contracts.topics import PEOPLE, SERVICES, TRIAGE, UPSTREAM, Topic
from deploy import acls

ROOT = Path(__file__).resolve().parents[2]
PEOPLE_USERS = {"workforce-cli", "workforce-console"}


@pytest.fixture(scope="module")
def rules() -> list[acls.Rule]:
    return acls.rules()


def allowed(rules: list[acls.Rule], operation: str, resource: str = "topic") -> dict[str, set[str]]:
    """The users allowed ``operation``, per topic (or group) name."""
    users: dict[str, set[str]] = defaultdict(set)
    for rule in rules:
        if rule.resource == resource and operation in rule.operations:
            users[rule.name].add(rule.user)
    return users


def users_of(*components: str) -> set[str]:
    return {user for component in components for user in acls.USERS[component]}


def topics_named_in(path: Path, call: str | None = None) -> set[str]:
    """Registry topics a module names as ``topics.X`` or ``X`` (only inside ``<...>.call(...)`` calls if given)."""
    tree = ast.parse(path.read_text())
    scopes = [c for c in ast.walk(tree) if isinstance(c, ast.Call) and isinstance(c.func, ast.Attribute) and c.func.attr == call] if call else [tree]
    nodes = [node for scope in scopes for node in ast.walk(scope)]
    names = {n.attr for n in nodes if isinstance(n, ast.Attribute)} | {n.id for n in nodes if isinstance(n, ast.Name)}
    return {getattr(topics, name).name for name in names if isinstance(getattr(topics, name, None), Topic)}


def test_the_shipped_acl_files_are_what_the_registry_and_the_services_generate() -> None:
    for path, text in acls.generate().items():
        assert path.read_text() == text, f"{path.relative_to(ROOT)} is stale: run `workforce acls --write`"


def test_a_new_writer_without_regenerating_makes_workforce_acls_check_fail(monkeypatch: pytest.MonkeyPatch) -> None:
    from deploy.cli import app

    assert CliRunner().invoke(app, ["acls", "--check"]).exit_code == 0
    widened = topics.TICKET_CREATED.model_copy(update={"writers": frozenset({UPSTREAM, TRIAGE})})
    monkeypatch.setattr(topics, "ALL", tuple(widened if t is topics.TICKET_CREATED else t for t in topics.ALL))
    refused = CliRunner().invoke(app, ["acls", "--check"])
    assert refused.exit_code == 1
    assert "kafka-acls.yaml is stale" in refused.output and "kafka-acls.sh is stale" in refused.output
    assert "workforce-triage" in allowed(acls.rules(), "Write")["ticket.created"]


def test_every_topic_is_writable_by_exactly_its_declared_writers(rules: list[acls.Rule]) -> None:
    writers = allowed(rules, "Write")
    assert set(writers) == set(topics.BY_NAME), "Write is granted only on registry topics, and on every one"
    for topic in topics.ALL:
        assert writers[topic.name] == users_of(*topic.writers), topic.name


def test_a_table_is_writable_only_by_the_service_that_owns_it(rules: list[acls.Rule]) -> None:
    writers = allowed(rules, "Write")
    tables = [t for t in topics.ALL if t.compacted]
    assert {t.name for t in tables} >= {"coworker.state", "budget.state", "policy.changed"}
    for table in tables:
        (owner,) = table.writers
        assert owner in SERVICES
        assert writers[table.name] == {f"workforce-{owner}"}, table.name


def test_approvals_and_coworker_commands_are_writable_only_by_people(rules: list[acls.Rule]) -> None:
    writers = allowed(rules, "Write")
    for topic in (topics.APPROVAL_GRANTED, topics.APPROVAL_REJECTED, topics.COWORKER_COMMAND):
        assert writers[topic.name] == PEOPLE_USERS, topic.name
    assert users_of(PEOPLE) == PEOPLE_USERS


def test_every_service_may_dead_letter(rules: list[acls.Rule]) -> None:
    assert allowed(rules, "Write")["deadletter"] >= users_of(*SERVICES)


def test_every_subscriber_reads_its_topics_in_a_group_of_its_own_service(rules: list[acls.Rule]) -> None:
    readers, groups = allowed(rules, "Read"), allowed(rules, "Read", "group")
    for service in SERVICES:
        user = f"workforce-{service}"
        subscribers = list(importlib.import_module(f"services.{service}.app").service.broker.subscribers)
        assert subscribers, service
        for subscriber in subscribers:
            group = subscriber.group_id
            assert group == f"workforce.{service}" or group.startswith(f"workforce.{service}."), group
            assert groups[group] == {user}, f"only {service} joins {group}"
            for name in subscriber.topic_names:
                assert user in readers[name], f"{service} cannot read {name} (group {group})"
        assert {g for g, users in groups.items() if user in users} == {s.group_id for s in subscribers}


def test_every_table_a_service_builds_is_readable_by_it(rules: list[acls.Rule]) -> None:
    readers = allowed(rules, "Read")
    found = 0
    for service in SERVICES:
        for name in topics_named_in(ROOT / "services" / service / "app.py", call="table"):
            found += 1
            assert f"workforce-{service}" in readers[name], f"{service} reads {name} as a table"
    assert found >= 6  # triage 2, skills 3, billing 1: the tables are found at all


def test_whoever_asks_billing_for_a_lease_can_read_the_grants(rules: list[acls.Rule]) -> None:
    readers = allowed(rules, "Read")
    assert readers["budget.lease.granted"] >= users_of(*(topics.BUDGET_LEASE_REQUESTED.writers & set(SERVICES)))


def test_every_service_can_see_every_topic_it_checks_at_start(rules: list[acls.Rule]) -> None:
    describers = allowed(rules, "Describe")
    for topic in topics.ALL:
        assert describers[topic.name] >= users_of(*SERVICES), topic.name


def test_a_persons_tools_can_read_every_topic_they_follow(rules: list[acls.Rule]) -> None:
    readers = allowed(rules, "Read")
    followed = topics_named_in(ROOT / "deploy" / "coworkers.py") | topics_named_in(ROOT / "deploy" / "memory.py")
    assert {"coworker.state", "coworker.changed", "approval.requested", "memory.recall", "memory.forgotten"} <= followed
    for name in followed:
        assert readers[name] >= PEOPLE_USERS, name


def test_no_producer_needs_idempotent_write_or_transactional_rights(rules: list[acls.Rule]) -> None:
    for folder in ("runtime", "services", "deploy", "contracts"):
        for path in (ROOT / folder).rglob("*.py"):
            text = path.read_text()
            assert "enable_idempotence" not in text and "transactional_id" not in text, f"{path.relative_to(ROOT)}: the ACL set grants no cluster or transactional-id rights"
    assert {rule.resource for rule in rules} == {"topic", "group"}


def test_the_strimzi_file_has_one_scram_user_per_principal_with_literal_acls() -> None:
    documents = list(yaml.safe_load_all(acls.MANIFEST.read_text()))
    assert [d["metadata"]["name"] for d in documents] == sorted(user for users in acls.USERS.values() for user in users)
    for document in documents:
        assert (document["apiVersion"], document["kind"]) == ("kafka.strimzi.io/v1beta2", "KafkaUser")
        assert document["metadata"]["labels"]["strimzi.io/cluster"] == acls.CLUSTER
        assert document["spec"]["authentication"] == {"type": "scram-sha-512"}
        assert document["spec"]["authorization"]["type"] == "simple"
        for acl in document["spec"]["authorization"]["acls"]:
            assert acl["resource"]["type"] in {"topic", "group"} and acl["resource"]["patternType"] == "literal"
            assert set(acl["operations"]) <= {"Read", "Write", "Describe"}
