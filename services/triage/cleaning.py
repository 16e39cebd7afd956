"""What of a ticket is the request: the words around it (mail headers, quoted replies, signatures,
disclaimers, "Sent from my iPhone") are dropped before its meaning is read. Pure.

Only the reading for routing is cleaned; the ticket itself, its handoff and its audit keep every
word the requester sent.
"""

from __future__ import annotations

import re

_HEADER = re.compile(r"^\s*(?:from|sent|to|cc|bcc|date|subject|von|an|betreff|de|para|enviado|asunto)\s*:.*$", re.IGNORECASE)
_FORWARD = re.compile(r"^\s*-{2,}\s*(?:original message|forwarded message|mensaje original|begin forwarded message)?\s*-*\s*$|^\s*begin forwarded message:?\s*$|^\s*on .{5,80} wrote:\s*$", re.IGNORECASE)
_QUOTED = re.compile(r"^\s*(?:>\s*)+")
_SENT_FROM = re.compile(r"^\s*(?:sent from my|get outlook for|enviado desde mi)\b.*$", re.IGNORECASE)
_DISCLAIMER = re.compile(r"(?:confidential|intended (?:only )?for the (?:named )?(?:recipient|addressee)|if you (?:have )?received this (?:e-?mail|message) in error|please consider the environment before printing)", re.IGNORECASE)
#: A closing line after which what follows is the sender's name, title and phone.
_CLOSING = re.compile(r"^\s*(?:--\s*|(?:best|kind|warm|many)?\s*(?:regards|thanks|thank you|cheers|best|sincerely|saludos|gracias|dhanyavaad|shukriya)[\s,.!]*(?:in advance)?[\s,.!]*)$", re.IGNORECASE)
_PHONE_OR_TITLE = re.compile(r"(?:\+?\d[\d\s().-]{6,}\d|\b(?:manager|director|engineer|analyst|specialist|coordinator|lead|intern|associate|vp|head of)\b|@|www\.|\bext\.?\s*\d+)", re.IGNORECASE)


def request_text(text: str) -> str:
    """The lines of ``text`` that state the request: no mail headers, separators, signatures or
    disclaimers. A forwarded or quoted message is kept (it is often the request itself), without
    its headers and markers. Falls back to the whole text when cleaning would leave nothing."""
    kept: list[str] = []
    in_signature = False
    lines = text.splitlines()
    for n, raw in enumerate(lines):
        line = _QUOTED.sub("", raw)
        if _FORWARD.match(line):
            in_signature = False  # a forwarded message starts: its words count again
            continue
        if in_signature or _HEADER.match(line) or _SENT_FROM.match(line):
            continue
        if _DISCLAIMER.search(line) and len(line) > 40:
            continue
        if _CLOSING.match(line) and kept:
            # A sign-off: the short lines after it are the sender's name, title and phone.
            rest = [r for r in lines[n + 1 : n + 6] if r.strip() and not _FORWARD.match(r)]
            in_signature = all(len(r) < 60 or _PHONE_OR_TITLE.search(r) or _DISCLAIMER.search(r) for r in rest[:4])
            continue
        kept.append(line)
    cleaned = "\n".join(line for line in kept if line.strip()).strip()
    return cleaned or text.strip()

