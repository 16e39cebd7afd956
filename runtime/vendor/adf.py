"""Atlassian Document Format (ADF), both ways: plain text as a document (what we write on Jira), and
a document as plain text (how we read a Jira Cloud description or comment).

Jira's v3 API and its webhooks carry rich text as an ADF document (``{"type": "doc", "version": 1,
"content": [...]}``): block nodes (paragraph, heading, lists, code, quote, panel, table) hold inline
nodes (text, hardBreak, mention, emoji, inlineCard, date, status). We keep the words and the line
structure, drop the formatting (marks), and name what has no words (a mention by its text, a link by
its URL, media as ``[attachment]``). A plain string (v2 API, wiki markup) is taken as it is. Unknown
nodes are read through their content, so a node Atlassian adds tomorrow still yields its text.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

#: Deeper than any editor writes; past it a hostile document is cut rather than recursed into.
MAX_DEPTH = 64

_BLOCKS = {"paragraph", "heading", "blockquote", "codeBlock", "panel", "rule", "mediaSingle", "mediaGroup",
           "table", "tableRow", "bulletList", "orderedList", "expand", "nestedExpand", "decisionList", "taskList",
           "layoutSection", "layoutColumn", "blockCard", "embedCard"}


def document(text: str) -> dict[str, Any]:
    """Plain text as an ADF document: a paragraph per blank-line block, hard breaks inside."""
    paragraphs = []
    for block in text.strip().split("\n\n"):
        content: list[dict[str, Any]] = []
        for i, line in enumerate(block.split("\n")):
            if i:
                content.append({"type": "hardBreak"})
            if line:
                content.append({"type": "text", "text": line})
        paragraphs.append({"type": "paragraph", "content": content})
    return {"type": "doc", "version": 1, "content": paragraphs}


def to_text(value: Any) -> str:
    """The text of an ADF document, fragment or node; a string unchanged; None as ""."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, (dict, list)):
        lines: list[str] = []
        _blocks(value if isinstance(value, list) else [value], lines, 0, prefix="")
        return "\n".join(lines).strip("\n")
    raise ValueError(f"rich text must be an ADF document or a string, got {type(value).__name__}")


def _blocks(nodes: list[Any], lines: list[str], depth: int, *, prefix: str, rest: str | None = None) -> None:
    """Append the lines of block ``nodes``; inline runs between blocks become one line each. The first
    line starts with ``prefix`` (a list item's bullet), the others with ``rest`` (its indent)."""
    start, run = len(lines), []
    rest = prefix if rest is None else rest

    def lead() -> str:
        return prefix if len(lines) == start else rest

    def flush() -> None:
        if run:
            for line in "".join(run).split("\n"):
                lines.append(lead() + line)
            run.clear()

    for node in nodes:
        if not isinstance(node, dict):
            continue
        kind = node.get("type")
        if kind in _BLOCKS or kind in {"doc", "listItem", "taskItem", "decisionItem", "tableCell", "tableHeader"}:
            flush()
            _block(node, lines, depth + 1, prefix=lead(), rest=rest)
        else:
            run.append(_inline(node, depth + 1))
    flush()


def _block(node: dict[str, Any], lines: list[str], depth: int, *, prefix: str, rest: str) -> None:
    if depth > MAX_DEPTH:
        return
    kind = node.get("type")
    content = node.get("content") if isinstance(node.get("content"), list) else []
    attrs = node.get("attrs") if isinstance(node.get("attrs"), dict) else {}
    if kind == "rule":
        lines.append("---")
    elif kind in {"bulletList", "orderedList", "taskList", "decisionList"}:
        start = attrs.get("order", 1) if isinstance(attrs.get("order"), int) else 1
        for i, item in enumerate(c for c in content if isinstance(c, dict)):
            if kind == "orderedList":
                mark = f"{start + i}. "
            elif kind == "taskList":
                mark = "[x] " if (item.get("attrs") or {}).get("state") == "DONE" else "[ ] "
            else:
                mark = "- "
            lead = prefix if i == 0 else rest
            _blocks(item.get("content") if isinstance(item.get("content"), list) else [], lines, depth, prefix=lead + mark, rest=rest + " " * len(mark))
    elif kind == "tableRow":
        cells = []
        for cell in content:
            if isinstance(cell, dict):
                inner: list[str] = []
                _blocks(cell.get("content") if isinstance(cell.get("content"), list) else [], inner, depth, prefix="")
                cells.append(" ".join(inner))
        lines.append(prefix + " | ".join(cells))
    elif kind in {"blockCard", "embedCard"}:
        if isinstance(attrs.get("url"), str):
            lines.append(prefix + attrs["url"])
    elif kind in {"mediaSingle", "mediaGroup"}:
        lines.append(prefix + "[attachment]")
    elif kind == "blockquote":
        _blocks(content, lines, depth, prefix=prefix + "> ", rest=rest + "> ")
    else:  # paragraph, heading, codeBlock, panel, expand, table, layout, doc, list items, cells
        if kind == "expand" and isinstance(attrs.get("title"), str) and attrs["title"]:
            lines.append(prefix + attrs["title"])
            prefix = rest
        _blocks(content, lines, depth, prefix=prefix, rest=rest)


def _inline(node: dict[str, Any], depth: int) -> str:
    if depth > MAX_DEPTH:
        return ""
    kind = node.get("type")
    attrs = node.get("attrs") if isinstance(node.get("attrs"), dict) else {}
    if kind == "text":
        return node.get("text") if isinstance(node.get("text"), str) else ""
    if kind == "hardBreak":
        return "\n"
    if kind == "mention":
        text = attrs.get("text")
        return text if isinstance(text, str) and text else f"@{attrs.get('id', 'someone')}"
    if kind == "emoji":
        return str(attrs.get("text") or attrs.get("shortName") or "")
    if kind == "inlineCard":
        return str(attrs.get("url") or "")
    if kind == "status":
        return f"[{attrs.get('text', '')}]"
    if kind == "date":
        try:
            return datetime.fromtimestamp(int(attrs.get("timestamp", "")) / 1000, UTC).date().isoformat()
        except (TypeError, ValueError, OverflowError, OSError):
            return ""
    if kind in {"media", "mediaInline"}:
        return "[attachment]"
    content = node.get("content")
    return "".join(_inline(c, depth + 1) for c in content if isinstance(c, dict)) if isinstance(content, list) else ""
