"""``workforce coworkers`` / ``approvals`` where no broker is needed: what a person sees when the
input is wrong or there is no stack to talk to. The broker address points at a port nothing
listens on, so anything that tried to send would fail with a different, loud error."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from contracts.envelope import Actor
from contracts.events import ApprovalDecision, ApprovalGranted, ApprovalRejected, ApprovalRequest
from deploy.cli import app
from deploy.cli_coworkers import _pending
from deploy.endpoints import NoStack, endpoints
from deploy.stack import ROOT, free_port

EXAMPLES = ROOT / "deploy" / "workforce" / "coworkers"


@pytest.fixture
def no_broker(monkeypatch: pytest.MonkeyPatch) -> str:
    unused = f"127.0.0.1:{free_port()}"
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", unused)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    return unused


@pytest.fixture
def no_stack(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KAFKA_BOOTSTRAP_SERVERS", raising=False)
    monkeypatch.delenv("DATABASE_URL", raising=False)


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output


def unboxed(output: str) -> str:
    """Rich help and usage errors as one line of words, without their box and wrapping."""
    return " ".join(output.replace("│", " ").split())


def manifest(**changes: object) -> dict:
    raw = yaml.safe_load((EXAMPLES / "jordan.yaml").read_text())
    for key, value in changes.items():
        if value is None:
            raw.pop(key)
        else:
            raw[key] = value
    return raw


def write(path: Path, raw: dict) -> Path:
    path.write_text(yaml.safe_dump(raw))
    return path


def test_an_invalid_manifest_is_refused_naming_the_file_the_field_and_the_problem_before_anything_is_sent(tmp_path: Path, no_broker: str) -> None:
    goals = [{"description": "Resolve most", "metric": "resolution_rate", "target": 70}]
    bad = write(tmp_path / "jordan.yaml", manifest(budget=None, goals=goals))

    code, output = run("coworkers", "apply", "-f", str(bad), "--as", "priya.raman")

    assert code == 1
    assert f"{bad}: " in output
    assert "budget: Field required" in output
    assert "goals.0: Value error, resolution_rate is a fraction between 0 and 1; got 70.0 (write 0.7 for 70%)" in output
    assert "Kafka" not in output  # nothing tried to reach the broker


def test_applying_a_folder_lists_every_invalid_manifest_and_sends_none_of_them(tmp_path: Path, no_broker: str) -> None:
    write(tmp_path / "jordan.yaml", manifest())
    write(tmp_path / "bob.yaml", manifest(name="bob", tools={"okta": ["users.read", "users.read"]}))
    write(tmp_path / "eve.yaml", manifest(name="Eve!"))

    code, output = run("coworkers", "apply", "-f", str(tmp_path))

    assert code == 1
    assert f"{tmp_path / 'bob.yaml'}: (manifest): Value error, tools.okta lists a scope twice" in output
    assert f"{tmp_path / 'eve.yaml'}: name: String should match pattern" in output
    assert "jordan" not in output.replace(str(tmp_path), "")  # the valid one is neither reported nor sent
    assert "Kafka" not in output


def test_two_manifests_with_the_same_name_are_refused_before_anything_is_sent(tmp_path: Path, no_broker: str) -> None:
    write(tmp_path / "a.yaml", manifest())
    write(tmp_path / "b.yaml", manifest())

    code, output = run("coworkers", "apply", "-f", str(tmp_path))

    assert code == 1
    assert f"{tmp_path / 'b.yaml'}: name: coworker 'jordan' is also declared in {tmp_path / 'a.yaml'}" in output


def test_a_manifest_file_that_does_not_exist_is_named(tmp_path: Path, no_broker: str) -> None:
    code, output = run("coworkers", "apply", "-f", str(tmp_path / "jordna.yaml"))

    assert (code, output.strip()) == (1, f"{tmp_path / 'jordna.yaml'}: no such file")


def test_a_name_with_a_space_is_refused_as_who_you_are(tmp_path: Path, no_broker: str) -> None:
    code, output = run("coworkers", "suspend", "atom", "--as", "priya raman")

    assert code == 2
    assert "'priya raman' cannot be an actor name: it needs 1-200 characters without spaces or colons, e.g. priya.raman" in unboxed(output)


def test_without_a_running_stack_a_command_says_how_to_start_one(tmp_path: Path, no_stack: None) -> None:
    code, output = run("coworkers", "list", "--var", str(tmp_path))

    assert code == 1
    assert "no running stack: start one with `workforce up`, or set KAFKA_BOOTSTRAP_SERVERS" in output


def test_the_approval_commands_say_only_the_manager_may_decide() -> None:
    for command in ("approve", "reject"):
        code, output = run("approvals", command, "--help")
        assert code == 0
        assert "Only the coworker's manager may decide" in unboxed(output)


@pytest.fixture
def listening() -> Iterator[str]:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        yield f"127.0.0.1:{server.getsockname()[1]}"


def test_commands_find_the_stack_that_workforce_up_started(tmp_path: Path, no_stack: None, listening: str) -> None:
    (tmp_path / "stack.json").write_text(json.dumps({"kafka": listening, "database_url": "postgresql://postgres@127.0.0.1:5999/postgres"}))

    assert endpoints(tmp_path) == (listening, "postgresql://postgres@127.0.0.1:5999/postgres")


def test_the_environment_wins_over_the_stack_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, listening: str) -> None:
    (tmp_path / "stack.json").write_text(json.dumps({"kafka": listening, "database_url": "postgresql://from-file/db"}))
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "kafka.internal:9092")
    monkeypatch.delenv("DATABASE_URL", raising=False)

    assert endpoints(tmp_path) == ("kafka.internal:9092", None)  # never one stack's broker with another's database


def test_a_stack_file_left_by_a_killed_stack_is_reported_as_gone(tmp_path: Path, no_stack: None) -> None:
    gone = f"127.0.0.1:{free_port()}"
    (tmp_path / "stack.json").write_text(json.dumps({"kafka": gone, "database_url": None}))

    with pytest.raises(NoStack, match=f"says the broker is at {gone}, but nothing answers there"):
        endpoints(tmp_path)


def test_an_approval_stays_waiting_until_its_approver_decides() -> None:
    def asked(approval_id: str) -> ApprovalRequest:
        return ApprovalRequest(approval_id=approval_id, ticket_id="T-1", coworker="jordan", coworker_version=1, skill="password-reset", step=1, system="okta", operation="users.read", action="find the user", approver="priya.raman")

    def decided(kind: type, approval_id: str, by: str) -> ApprovalGranted:
        data = ApprovalDecision(approval_id=approval_id, ticket_id="T-1", coworker="jordan", skill="password-reset", step=1)
        return kind.create(data, source="/cli/workforce", team="platform", actor=Actor.human(by), correlation_id="T-1")

    requests = [asked("a1"), asked("a1"), asked("a2"), asked("a3")]  # a1 asked twice (a redelivery)
    decisions = [decided(ApprovalGranted, "a2", "daniel.okafor"), decided(ApprovalRejected, "a3", "priya.raman")]

    assert [a.approval_id for a in _pending(requests, decisions)] == ["a1", "a2"]  # a2 was decided by someone who may not


def test_junk_on_the_approval_topics_is_skipped_and_counted_not_fatal() -> None:
    from types import SimpleNamespace

    from contracts import codec, topics
    from contracts.events import ApprovalRequest, ApprovalRequested
    from deploy.coworkers import approvals_in

    request = ApprovalRequest(approval_id="A-1", ticket_id="T-1", coworker="jordan", coworker_version=1, skill="password-reset", step=2, system="okta", operation="users.reset_password", action="reset the password", approver="priya.raman")
    asked = ApprovalRequested.create(request, source="/services/skills", team="it-support", actor=Actor.coworker("jordan"), correlation_id="T-1")
    records = {
        topics.APPROVAL_REQUESTED.name: [SimpleNamespace(value=b"\xff not json"), SimpleNamespace(value=codec.encode(asked)), SimpleNamespace(value=None)],
        topics.APPROVAL_GRANTED.name: [SimpleNamespace(value=codec.encode(asked))],  # a request where a decision belongs
        topics.APPROVAL_REJECTED.name: [],
    }
    found, decided, skipped = approvals_in(records)
    assert [a.approval_id for a in found] == ["A-1"] and decided == [] and skipped == 3


def test_a_listing_that_holds_the_services_keys_skips_approval_requests_no_service_signed(keyring) -> None:  # noqa: ANN001
    from types import SimpleNamespace

    from contracts import codec, topics
    from contracts.events import ApprovalRequest, ApprovalRequested
    from deploy.coworkers import approvals_in
    from runtime.signing import Keyring

    ring = Keyring(keyring)
    request = ApprovalRequest(approval_id="A-1", ticket_id="T-1", coworker="jordan", coworker_version=1, skill="password-reset", step=2, system="okta", operation="users.reset_password", action="reset the password", approver="priya.raman")
    asked = codec.encode(ApprovalRequested.create(request, source="/services/skills", team="it-support", actor=Actor.coworker("jordan"), correlation_id="T-1"))
    name = topics.APPROVAL_REQUESTED.name

    def record(signer: str | None) -> SimpleNamespace:
        return SimpleNamespace(key=b"T-1", value=asked, headers=ring.signer(signer).sign(name, b"T-1", asked) if signer else [])

    records = {name: [record("skills"), record(None), record("upstream")], topics.APPROVAL_GRANTED.name: [], topics.APPROVAL_REJECTED.name: []}
    found, _, skipped = approvals_in(records, ring)
    assert [a.approval_id for a in found] == ["A-1"] and skipped == 2, "one asked by skills; the unsigned and the adapter's are not shown"
