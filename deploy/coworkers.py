"""What a person does to the workforce, through events: lifecycle commands answered by governance,
the coworker table, approvals. Used by the CLI, the demo's bootstrap and the tests."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from contracts import codec, topics
from contracts.coworkers import CoworkerManifest, LifecycleState, load_workforce
from contracts.envelope import Actor, Envelope
from contracts.events import (
    ApprovalDecision,
    ApprovalGranted,
    ApprovalRejected,
    ApprovalRequest,
    CommandName,
    CoworkerCommand,
    CoworkerCommanded,
    CoworkerState,
)
from deploy import producing
from runtime.signing import Keyring, Refusal, reader_keyring
from runtime.table import TopicTable, read_topic


class Refused(Exception):
    """Governance refused the command; the message is its reason."""


class Follower:
    """Reads topics from (about) their end, to catch the answers to what we are about to send."""

    def __init__(self, bootstrap: str, *names: str) -> None:
        self.bootstrap, self.names = bootstrap, names
        self.seen: list[Envelope[Any]] = []

    async def __aenter__(self) -> Follower:
        self.consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, enable_auto_commit=False, fetch_max_wait_ms=50)
        await self.consumer.start()
        partitions = [TopicPartition(n, p) for n in self.names for p in range(topics.BY_NAME[n].partitions)]
        self.consumer.assign(partitions)
        await self.consumer.seek_to_end(*partitions)
        for tp in partitions:
            await self.consumer.position(tp)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.consumer.stop()

    async def wait_for(self, match: Callable[[Envelope[Any]], bool], timeout_s: float = 60) -> Envelope[Any]:
        deadline = asyncio.get_running_loop().time() + timeout_s
        while True:
            for event in self.seen:
                if match(event):
                    return event
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"no answer on {', '.join(self.names)} after {timeout_s:.0f}s (is governance running?)")
            batch = await self.consumer.getmany(timeout_ms=200)
            for records in batch.values():
                for record in records:
                    try:
                        self.seen.append(codec.decode(record.value))
                    except codec.DecodeError:
                        continue


def approvals_in(records: dict[str, list[Any]], keyring: Keyring | None = None) -> tuple[list[ApprovalRequest], list[Envelope[ApprovalDecision]], int]:
    """The approval requests and decisions among each topic's records, and how many records were
    not what their topic carries or, with ``keyring``, not signed by one of its writers (skipped: a
    junk record must not hide every approval, a forged one must not be shown as asked)."""
    asked: list[ApprovalRequest] = []
    decided: list[Envelope[ApprovalDecision]] = []
    skipped = 0
    for name, found in records.items():
        topic = topics.BY_NAME[name]
        for record in found:
            try:
                if keyring is not None and isinstance(keyring.verify(topic, record.key, record.value, record.headers), Refusal):
                    raise codec.DecodeError("forged", "not signed by a writer of its topic")
                event = codec.decode_as(record.value, topic.event)
            except codec.DecodeError:
                skipped += 1
                continue
            (asked.append(event.data) if event.type == "approval.requested" else decided.append(event))
    return asked, decided, skipped


class Workforce:
    """A person's handle on the workforce: ``actor`` is who they are in the audit trail."""

    def __init__(self, bootstrap: str, actor: Actor) -> None:
        self.bootstrap, self.actor = bootstrap, actor
        self.skipped = 0  # records of the last listing that were not what their topic carries

    async def _send(self, *events: Envelope[Any], progress: Callable[[int], None] | None = None) -> None:
        """Send as this person: signed with their own key, which is how the services know it was them."""
        await producing.send(self.bootstrap, producing.signer_for(str(self.actor)), events, client_id="workforce-cli", progress=progress)

    async def command(self, command: CommandName, coworker: str, *, manifest: CoworkerManifest | None = None, reason: str = "", timeout_s: float = 60) -> Envelope[Any]:
        """Send a lifecycle command and return governance's answer (``coworker.changed``); raise
        ``Refused`` with governance's reason when it refused."""
        command_id = str(uuid.uuid4())
        event = CoworkerCommanded(
            id=command_id,
            source="/cli/workforce",
            subject=coworker,
            team=manifest.team if manifest else "platform",
            actor=self.actor,
            correlation_id=command_id,
            data=CoworkerCommand(command=command, coworker=coworker, manifest=manifest, reason=reason),
        )
        async with Follower(self.bootstrap, topics.COWORKER_CHANGED.name, topics.COWORKER_REJECTED.name) as answers:
            await self._send(event)
            answer = await answers.wait_for(lambda e: e.causation_id == command_id, timeout_s)
        if answer.type == "coworker.rejected":
            raise Refused(answer.data.reason)
        return answer

    async def table(self) -> dict[str, CoworkerState]:
        table: TopicTable[Any] = TopicTable(self.bootstrap, topics.COWORKER_STATE, keyring=reader_keyring(), client_id="workforce-cli")
        await table.start()
        try:
            await table.caught_up()
            self.skipped = table.refused
            return {row.data.coworker: row.data for row in table}
        finally:
            await table.stop()

    async def wait_until(self, check: Callable[[dict[str, CoworkerState]], bool], timeout_s: float = 60) -> dict[str, CoworkerState]:
        """Wait until the coworker table satisfies ``check`` (other services read the same table)."""
        deadline = asyncio.get_running_loop().time() + timeout_s
        while True:
            now = await self.table()
            if check(now):
                return now
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError("the coworker table did not reach the expected state")
            await asyncio.sleep(0.3)

    async def approvals(self) -> tuple[list[ApprovalRequest], list[Envelope[ApprovalDecision]]]:
        """Every approval asked for, and every decision taken, as the topics hold them. A record
        that is not one (junk, another event type) is skipped and counted in ``self.skipped``."""
        records = {name: await read_topic(self.bootstrap, name) for name in (topics.APPROVAL_REQUESTED.name, topics.APPROVAL_GRANTED.name, topics.APPROVAL_REJECTED.name)}
        asked, decided, self.skipped = approvals_in(records, reader_keyring())
        return asked, decided

    async def decide(self, approval_id: str, *, grant: bool, comment: str = "") -> None:
        asked, _ = await self.approvals()
        request = next((a for a in asked if a.approval_id == approval_id), None)
        if request is None:
            raise LookupError(f"no approval {approval_id!r} was asked for")
        kind = ApprovalGranted if grant else ApprovalRejected
        data = ApprovalDecision(approval_id=approval_id, ticket_id=request.ticket_id, coworker=request.coworker, skill=request.skill, step=request.step, comment=comment)
        await self._send(kind.create(data, source="/cli/workforce", team="platform", actor=self.actor, correlation_id=request.ticket_id, subject=request.ticket_id))

    async def bring_up(self, manifests: Iterable[CoworkerManifest]) -> list[str]:
        """Apply and publish each manifest that is not active as written; return what changed.
        All are applied before any is published, so sub-agents exist when their parents go live."""
        wanted = list(manifests)
        current = await self.table()
        changed = []
        for manifest in wanted:
            row = current.get(manifest.name)
            if row is not None and row.state is LifecycleState.active and row.active == manifest:
                continue
            answer = await self.command("apply", manifest.name, manifest=manifest)
            changed.append(f"{manifest.name}: applied v{answer.data.version}")
        for manifest in wanted:
            row = (await self.table()).get(manifest.name)
            if row is not None and row.draft_version is not None:
                answer = await self.command("publish", manifest.name)
                changed.append(f"{manifest.name}: published v{answer.data.version}")
        return changed


def example_workforce() -> dict[str, CoworkerManifest]:
    return load_workforce(Path(__file__).parent / "workforce" / "coworkers")
