"""The Kafka ACL set: what each component's principal may write, read and describe, generated from
the topic registry and the services' own subscribers (never written by hand).

The brokers enforce in production what the services already check on every record: who may write
what (``Topic.writers`` in ``contracts/topics.py``). Each component connects as its own SCRAM user,
``User:workforce-<component>``; a person's tools (the CLI, later the console) act for "people".

- **Write** on a topic: exactly its declared writers.
- **Read** on a topic: what a service's FastStream subscribers consume, the tables it builds with
  ``service.table(...)`` (read without a group), and, for those that ask billing for budget leases,
  ``budget.lease.granted`` (``runtime/budget.py`` follows it without a group). A person's tools read
  what ``PEOPLE_READS`` names.
- **Read** on a group: each subscriber's consumer group, ``workforce.<service>[.<handler>]``.
- **Describe** on every registry topic, for the services: at every start ``runtime/topics.py`` lists
  the cluster's topics and creates those it does not see; a topic it may not describe looks missing,
  creating it is refused, and the service would not start.

No producer is idempotent or transactional, so no principal needs cluster or transactional-id rights.
``workforce acls --write`` regenerates ``deploy/k8s/kafka-acls.yaml`` (Strimzi) and
``deploy/kafka-acls.sh`` (plain Apache Kafka); ``workforce acls --check`` fails when they are stale.
"""

from __future__ import annotations

import importlib
from collections import defaultdict
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml

from contracts import topics
from contracts.topics import PEOPLE, SERVICES, UPSTREAM

DEPLOY = Path(__file__).resolve().parent
MANIFEST = DEPLOY / "k8s" / "kafka-acls.yaml"
SCRIPT = DEPLOY / "kafka-acls.sh"

#: The Strimzi cluster and its namespace, as deploy/k8s/configmap.yaml reaches them
#: (``workforce-kafka-bootstrap.kafka.svc``); Strimzi's User Operator watches only that namespace.
CLUSTER, NAMESPACE = "workforce", "kafka"

#: The SCRAM users of each writer named in the registry (the Kafka principal is ``User:<user>``).
USERS: dict[str, tuple[str, ...]] = {
    **{service: (f"workforce-{service}",) for service in SERVICES},
    UPSTREAM: ("workforce-upstream",),
    PEOPLE: ("workforce-cli", "workforce-console"),
}

#: The processes that sign as a writer which is not a service: the upstream adapter is the
#: service-desk connector (services/desk), and it reads what it writes back under that user.
PROCESSES: dict[str, str] = {**{service: service for service in SERVICES}, UPSTREAM: "desk"}

#: What a person's tools read, from the end or whole, without a consumer group: the coworker table
#: and governance's answers, the approvals (deploy/coworkers.py), memory's answers (deploy/memory.py).
PEOPLE_READS = (
    topics.COWORKER_STATE,
    topics.COWORKER_CHANGED,
    topics.COWORKER_REJECTED,
    topics.APPROVAL_REQUESTED,
    topics.APPROVAL_GRANTED,
    topics.APPROVAL_REJECTED,
    topics.MEMORY_RECALLED,
    topics.MEMORY_FORGOTTEN,
)


@dataclass(frozen=True)
class Reads:
    """What one service consumes: the topics, and the consumer groups it joins."""

    topics: frozenset[str]
    groups: frozenset[str]


@dataclass(frozen=True)
class Rule:
    """Allow ``User:<user>`` the ``operations`` on one topic or group (literal name, any host)."""

    user: str
    resource: str  # "topic" or "group"
    name: str
    operations: tuple[str, ...]

    @property
    def principal(self) -> str:
        return f"User:{self.user}"


@cache
def service_reads(name: str) -> Reads:
    """The topics and groups of ``services.<name>.app``'s subscribers and tables, as its code declares them."""

    service = importlib.import_module(f"services.{name}.app").service
    read: set[str] = set()
    groups: set[str] = set()
    for subscriber in service.broker.subscribers:
        if subscriber.pattern or subscriber.partitions or not subscriber.group_id:
            raise ValueError(f"{name}: subscriber {subscriber.topic_names} is not a group subscription to named topics; the ACL set cannot cover it")
        read.update(subscriber.topic_names)
        groups.add(subscriber.group_id)
    read.update(topic.name for topic in service.tables)
    if name in topics.BUDGET_LEASE_REQUESTED.writers:
        read.add(topics.BUDGET_LEASE_GRANTED.name)
    unknown = sorted(read - set(topics.BY_NAME))
    if unknown:
        raise ValueError(f"{name} reads topics that are not in contracts/topics.py: {', '.join(unknown)}")
    return Reads(frozenset(read), frozenset(groups))


def rules() -> list[Rule]:
    """Every ACL, merged per user and resource, in a fixed order (user, topics before groups, name)."""
    granted: dict[tuple[str, str, str], set[str]] = defaultdict(set)

    def allow(component: str, resource: str, name: str, *operations: str) -> None:
        for user in USERS[component]:
            granted[(user, resource, name)].update(operations)

    for topic in topics.ALL:
        for writer in topic.writers:
            allow(writer, "topic", topic.name, "Write", "Describe")
    for writer, process in PROCESSES.items():
        reads = service_reads(process)
        for name in reads.topics:
            allow(writer, "topic", name, "Read", "Describe")
        for group in reads.groups:
            allow(writer, "group", group, "Read")
        for topic in topics.ALL:
            allow(writer, "topic", topic.name, "Describe")
    for topic in PEOPLE_READS:
        allow(PEOPLE, "topic", topic.name, "Read", "Describe")
    order = {"topic": 0, "group": 1}
    return [
        Rule(user, resource, name, tuple(sorted(operations)))
        for (user, resource, name), operations in sorted(granted.items(), key=lambda item: (item[0][0], order[item[0][1]], item[0][2]))
    ]


def strimzi(acls: list[Rule]) -> str:
    """One Strimzi ``KafkaUser`` per principal (SCRAM-SHA-512, simple authorization)."""
    users: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for rule in acls:
        users[rule.user].append({"resource": {"type": rule.resource, "name": rule.name, "patternType": "literal"}, "operations": list(rule.operations)})
    documents = [
        {
            "apiVersion": "kafka.strimzi.io/v1beta2",
            "kind": "KafkaUser",
            "metadata": {"name": user, "namespace": NAMESPACE, "labels": {"strimzi.io/cluster": CLUSTER, "app.kubernetes.io/part-of": "workforce"}},
            "spec": {"authentication": {"type": "scram-sha-512"}, "authorization": {"type": "simple", "acls": entries}},
        }
        for user, entries in users.items()
    ]
    header = (
        "# Kafka users and ACLs of Workforce, one per component, for Strimzi's User Operator.\n"
        "# Generated by `workforce acls --write` from contracts/topics.py and the services' subscribers: do not edit.\n"
        "# Apply it in the Kafka cluster's namespace, not with the kustomization: kubectl apply -f deploy/k8s/kafka-acls.yaml\n"
        "# The cluster needs `authorization: {type: simple}` and a listener with scram-sha-512 authentication;\n"
        "# each user's password is in the Secret of the same name that the User Operator creates.\n"
    )
    return header + yaml.safe_dump_all(documents, sort_keys=False, explicit_start=True, default_flow_style=None, width=120)


def script(acls: list[Rule]) -> str:
    """The same ACLs as ``kafka-acls.sh`` commands: one per user, kind of resource and set of operations."""
    commands: dict[tuple[str, str, tuple[str, ...]], list[str]] = defaultdict(list)
    for rule in acls:
        commands[(rule.principal, rule.resource, rule.operations)].append(rule.name)
    lines = [
        "#!/bin/sh",
        "# Kafka ACLs of Workforce, one principal per component, for plain Apache Kafka (kafka-acls.sh on PATH).",
        "# Generated by `workforce acls --write` from contracts/topics.py and the services' subscribers: do not edit.",
        "# Names are literal (the default of --add); adding an ACL that exists already changes nothing.",
        "#   KAFKA_BOOTSTRAP_SERVERS=kafka:9092 KAFKA_ADMIN_CONFIG=admin.properties sh deploy/kafka-acls.sh",
        "set -eu",
        ': "${KAFKA_BOOTSTRAP_SERVERS:?the cluster to add the ACLs to}"',
        ': "${KAFKA_ADMIN_CONFIG:?a client properties file that authenticates as a principal allowed to alter ACLs}"',
    ]
    for (principal, resource, operations), names in commands.items():
        lines.append("")
        lines.append('kafka-acls.sh --bootstrap-server "$KAFKA_BOOTSTRAP_SERVERS" --command-config "$KAFKA_ADMIN_CONFIG" --add \\')
        lines.append(f"  --allow-principal {principal} {' '.join(f'--operation {op}' for op in operations)} \\")
        lines.extend(f"  --{resource} {name}" + (" \\" if i < len(names) - 1 else "") for i, name in enumerate(names))
    return "\n".join(lines) + "\n"


def generate() -> dict[Path, str]:
    """The two files, as the registry and the services' code make them now."""
    acls = rules()
    return {MANIFEST: strimzi(acls), SCRIPT: script(acls)}


def command(
    write: Annotated[bool, typer.Option(help="Write deploy/k8s/kafka-acls.yaml and deploy/kafka-acls.sh.")] = False,
    check: Annotated[bool, typer.Option(help="Fail if the shipped files are not what the registry generates.")] = False,
) -> None:
    """Print the Kafka ACLs per principal, derived from contracts/topics.py and the services' subscribers."""
    if not (write or check):
        for rule in rules():
            typer.echo(f"{rule.principal:<26} {rule.resource:<5} {rule.name:<32} {','.join(rule.operations)}")
        return
    files = generate()
    if check:
        stale = [path for path, text in files.items() if not path.exists() or path.read_text() != text]
        for path in stale:
            typer.echo(f"{path} is stale: run `workforce acls --write`", err=True)
        if stale:
            raise typer.Exit(1)
        typer.echo("the Kafka ACL files are up to date")
        return
    for path, text in files.items():
        path.write_text(text)
        if path.suffix == ".sh":
            path.chmod(0o755)
        typer.echo(f"wrote {path}")
