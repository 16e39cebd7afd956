"""The AsyncAPI document, generated from the five services' FastStream apps (never written by hand)."""

from __future__ import annotations

import importlib
from pathlib import Path

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
    return spec.to_specification().to_yaml()
