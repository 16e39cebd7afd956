"""Standing facts a requester states about themselves, worth remembering beyond the ticket: how to
reach them, their language, where they work, their device. Extracted by patterns from the
requester's own words (no model call), one topic each, so a later statement on the same topic
supersedes the earlier one in memory (kept as history).

Patterns rather than a model: the embedded default must work offline, and a wrong preference is
worse than a missed one, so each pattern is narrow and anchored on the first person."""

from __future__ import annotations

import re
from dataclasses import dataclass

_LANGUAGES = "english|german|french|spanish|portuguese|italian|dutch|hindi|tamil|telugu|marathi|bengali|kannada|japanese|chinese|mandarin|korean|arabic|polish"

#: topic -> patterns over one sentence of the requester's words; the first group is the value.
PATTERNS: dict[str, tuple[re.Pattern[str], ...]] = {
    "contact": (
        re.compile(r"\b(?:please\s+)?(?:call|text|ping|message|reach|contact|email|e-mail)\s+me\s+(?:instead\s+|rather\s+)?(?:on|at|by|via|over|through)\s+([^.,;!?]{2,60})", re.I),
        re.compile(r"\b(call|phone|text|email|e-mail|message|ping)\s+me\s+(?:instead|rather)\b", re.I),
        re.compile(r"\bI\s+prefer\s+(Slack|Teams|Microsoft\s+Teams|email|e-mail|phone(?:\s+calls?)?|calls?|WhatsApp|SMS|text\s+messages?)\b", re.I),
        re.compile(r"\bI\s+prefer\s+(?:to\s+be\s+contacted\s+|contact\s+)?(?:by|via|over|on)\s+([^.,;!?]{2,60})", re.I),
        re.compile(r"\bbest\s+(?:way\s+)?to\s+reach\s+me\s+is\s+(?:by\s+|via\s+|on\s+)?([^.,;!?]{2,60})", re.I),
    ),
    "language": (
        re.compile(rf"\b(?:I\s+prefer|please\s+(?:reply|answer|write)\s+in|in)\s+({_LANGUAGES})(?:\s+please)?\b(?=[\s.,;!?]*$|\s+please)", re.I),
        re.compile(rf"\bI\s+(?:only\s+)?(?:speak|read)\s+({_LANGUAGES})\b", re.I),
    ),
    "location": (
        re.compile(r"\bI\s*(?:'m|am)\s+(?:working\s+|based\s+)?(remote(?:ly)?|from\s+home|at\s+home|on\s+site|in\s+the\s+[A-Z][\w-]*(?:\s+[A-Z][\w-]*)?\s+office|based\s+in\s+[A-Z][\w-]*(?:\s+[A-Z][\w-]*)?)", re.I),
        re.compile(r"\bI\s+work\s+(remotely|from\s+home|from\s+the\s+[A-Z][\w-]*(?:\s+[A-Z][\w-]*)?\s+office|in\s+[A-Z][\w-]*(?:\s+[A-Z][\w-]*)?)", re.I),
    ),
    "device": (
        re.compile(r"\bmy\s+(?:work\s+)?(?:laptop|computer|machine|notebook)\s+is\s+an?\s+([^.,;!?]{2,40})", re.I),
        re.compile(r"\bI\s+(?:use|have|am\s+on)\s+an?\s+((?:MacBook|Mac|ThinkPad|Dell|HP|Surface|Lenovo|Chromebook|Windows\s+laptop|Linux\s+laptop)[^.,;!?]{0,30})", re.I),
    ),
    "timezone": (
        re.compile(r"\bI\s*(?:'m|am)\s+(?:in|on)\s+((?:[A-Z]{2,4}T|UTC[+-]?\d{0,2}|IST|CET|CEST|GMT|BST|PST|EST|CST|MST|JST|SGT|AEST)\b)"),
    ),
}
_SENTENCES = re.compile(r"(?<=[.!?\n])\s+")


@dataclass(frozen=True)
class Preference:
    topic: str
    value: str
    sentence: str


def extract(text: str) -> list[Preference]:
    """Each topic's last statement in ``text`` (a later sentence on the same topic wins)."""
    found: dict[str, Preference] = {}
    for sentence in _SENTENCES.split(text):
        sentence = sentence.strip()
        if not sentence or len(sentence) > 400:
            continue
        for topic, patterns in PATTERNS.items():
            for pattern in patterns:
                match = pattern.search(sentence)
                if match:
                    found[topic] = Preference(topic, " ".join(match.group(1).split()).rstrip(" -"), sentence)
                    break
    return list(found.values())
