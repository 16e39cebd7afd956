"""What a skill needs to know that a ticket may not say, and the question that asks for it. Pure."""

from __future__ import annotations

import re

from contracts.catalog import InputSpec, SkillSpec
from services.triage.classifier import normalise


def extract(spec: SkillSpec, text: str) -> tuple[dict[str, str], InputSpec | None]:
    """The inputs found in ``text`` (by the values each input recognises), and the first one missing."""
    words = f" {normalise(text)} "
    found: dict[str, str] = {}
    missing = None
    for needed in spec.inputs:
        hit = next((choice for choice in needed.choices if re.search(rf"\b{re.escape(normalise(choice))}\b", words)), None)
        if hit is not None:
            found[needed.name] = hit
        elif missing is None:
            missing = needed
    return found, missing
