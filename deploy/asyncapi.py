"""The AsyncAPI document, generated from the six services' FastStream apps (never written by hand)."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import yaml

from faststream.specification import AsyncAPI

from deploy.stack import SERVICES

DOCUMENT = Path(__file__).resolve().parents[1] / "contracts" / "asyncapi.yaml"


def generate() -> str:
    brokers = [importlib.import_module(f"services.{name}.app").service.broker for name in SERVICES]
    spec = AsyncAPI(
        *brokers,
        title="Workforce",
        version="1",
        description=(
            "Events of the Workforce platform. Every message is a CloudEvents 1.0 event in structured mode "
            "(content-type application/cloudevents+json), keyed by its ticket (or by team for money). "
            "Generated from the services' code by `workforce asyncapi`."
        ),
    )
    return _canonical(spec.to_specification().to_jsonable())


def _canonical(document: dict[str, Any]) -> str:
    """The document with its named sections sorted, so that the same code yields the same bytes.

    FastStream keeps a broker's publishers in a WeakSet, whose order follows memory addresses.
    """
    for section in ("channels", "operations"):
        document[section] = dict(sorted(document.get(section, {}).items()))
    components = document.get("components", {})
    for section in ("messages", "schemas"):
        components[section] = dict(sorted(components.get(section, {}).items()))
    return yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=100)
