"""A person's (or a script's) handle on memory, over Kafka only: forget a requester, recall, and ingest
documents as team knowledge. Only the memory service opens Qdrant (Qdrant Edge locks its shard's
write-ahead log to one process: a second one fails to open it), so ingestion reads, chunks and redacts
documents here and sends the chunks as ``memory.knowledge`` events; the memory service embeds and
stores them."""

from __future__ import annotations

import hashlib
import html
import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from contracts import topics
from contracts.envelope import Actor, Envelope
from contracts.events import ErasureRequest, KnowledgeChunk, MemoryErasureRequested, MemoryKnowledgeIngested, MemoryRecallRequested, RecallRequest
from deploy.coworkers import Follower, Workforce
from runtime.redact import redact_text

SUFFIXES = {".md": "markdown", ".markdown": "markdown", ".txt": "text", ".text": "text", ".html": "html", ".htm": "html", ".pdf": "pdf"}
CHUNK_CHARS = 1500  # ~300-400 tokens: well inside the embedder's window, small enough to recall precisely
OVERLAP_CHARS = 200


@dataclass(frozen=True)
class Document:
    path: Path
    title: str
    text: str

    @property
    def document_id(self) -> str:
        return hashlib.sha256(str(self.path.resolve()).encode()).hexdigest()[:32]

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.text.encode()).hexdigest()


class _Text(HTMLParser):
    SKIP = {"script", "style", "head", "nav", "footer"}
    BLOCK = {"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "section", "article", "pre", "table"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.title = ""
        self._skip = 0
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        if tag in self.SKIP:
            self._skip += 1
        if tag == "title":
            self._in_title = True
        if tag in self.BLOCK:
            self.parts.append("\n\n" if tag != "br" else "\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIP and self._skip:
            self._skip -= 1
        if tag == "title":
            self._in_title = False

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data
        elif not self._skip:
            self.parts.append(data)


def read_document(path: Path) -> Document:
    """The text of a Markdown, HTML, text or PDF file; a clear error for anything else."""
    kind = SUFFIXES.get(path.suffix.lower())
    if kind is None:
        raise ValueError(f"{path}: cannot ingest {path.suffix or 'a file without a suffix'}; supported: {', '.join(sorted(SUFFIXES))}")
    if kind == "pdf":
        from pypdf import PdfReader

        reader = PdfReader(str(path))
        text = "\n\n".join((page.extract_text() or "") for page in reader.pages)
        title = str((reader.metadata or {}).get("/Title") or path.stem)
    elif kind == "html":
        parser = _Text()
        parser.feed(path.read_text(errors="replace"))
        text, title = html.unescape("".join(parser.parts)), parser.title.strip() or path.stem
    else:
        text = path.read_text(errors="replace")
        heading = re.search(r"^#\s+(.+)$", text, re.MULTILINE) if kind == "markdown" else None
        title = heading.group(1).strip() if heading else path.stem
    text = re.sub(r"[ \t]+", " ", text.replace("\x00", ""))
    text = re.sub(r"\n\s*\n\s*", "\n\n", text).strip()
    return Document(path=path, title=title[:500], text=text)


def chunks(text: str, *, size: int = CHUNK_CHARS, overlap: int = OVERLAP_CHARS) -> list[str]:
    """Paragraph-aligned chunks of at most ``size`` characters; a paragraph longer than that is cut
    at sentence or word ends, with ``overlap`` characters carried into the next piece."""
    pieces: list[str] = []
    for paragraph in text.split("\n\n"):
        while len(paragraph) > size:
            cut = max(paragraph.rfind(". ", 0, size), paragraph.rfind(" ", 0, size))
            cut = cut + 1 if cut > size // 2 else size
            pieces.append(paragraph[:cut].strip())
            paragraph = paragraph[max(cut - overlap, 1):]
        if paragraph.strip():
            pieces.append(paragraph.strip())
    out: list[str] = []
    for piece in pieces:
        if out and len(out[-1]) + 2 + len(piece) <= size:
            out[-1] = f"{out[-1]}\n\n{piece}"
        else:
            out.append(piece)
    return out


def files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist")
    return sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in SUFFIXES)


def knowledge_events(document: Document, *, team: str, actor: Actor) -> Iterator[MemoryKnowledgeIngested]:
    parts = chunks(redact_text(document.text))
    for index, part in enumerate(parts):
        data = KnowledgeChunk(document_id=document.document_id, source=str(document.path)[:1000], title=document.title, chunk=index, chunks=len(parts), text=part[:20_000], sha256=document.sha256)
        event_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"knowledge:{team}:{document.document_id}:{document.sha256}:{index}"))
        yield MemoryKnowledgeIngested(id=event_id, source="/cli/workforce", subject=document.document_id, team=team, actor=actor, correlation_id=f"doc:{document.document_id}", data=data)


class MemoryDesk(Workforce):
    """Memory's requests and answers, as the CLI and tests send them."""

    async def forget(self, scope: str, subject: str, *, reason: str, team: str = "platform", timeout_s: float = 60) -> Envelope[Any]:
        """Ask memory to forget ``subject`` and return its answer (``memory.forgotten``, with the count)."""
        request_id = str(uuid.uuid4())
        event = MemoryErasureRequested(id=request_id, source="/cli/workforce", subject=subject, team=team, actor=self.actor, correlation_id=request_id, data=ErasureRequest(scope=scope, subject=subject, reason=reason))  # type: ignore[arg-type]
        async with Follower(self.bootstrap, topics.MEMORY_FORGOTTEN.name) as answers:
            await self._send(event)
            return await answers.wait_for(lambda e: e.causation_id == request_id, timeout_s)

    async def recall(self, team: str, text: str, *, ticket_id: str | None = None, requester_id: str | None = None, token_budget: int = 500, limit: int = 10, context_budget: int = 0, timeout_s: float = 60) -> Envelope[Any]:
        request_id = str(uuid.uuid4())
        flow = ticket_id or request_id
        event = MemoryRecallRequested(id=request_id, source="/cli/workforce", subject=flow, team=team, actor=self.actor, correlation_id=flow,
                                      data=RecallRequest(request_id=request_id, text=text, ticket_id=ticket_id, requester_id=requester_id, token_budget=token_budget, limit=limit, context_budget=context_budget))
        async with Follower(self.bootstrap, topics.MEMORY_RECALLED.name) as answers:
            await self._send(event)
            return await answers.wait_for(lambda e: e.causation_id == request_id, timeout_s)

    async def ask(self, event: MemoryRecallRequested, *, timeout_s: float = 60) -> Envelope[Any]:
        """Send a prepared recall request and return memory's answer."""
        async with Follower(self.bootstrap, topics.MEMORY_RECALLED.name) as answers:
            await self._send(event)
            return await answers.wait_for(lambda e: e.causation_id == event.id, timeout_s)

    async def ingest(self, events: list[MemoryKnowledgeIngested], *, progress: Callable[[int], None] | None = None) -> int:
        """Send the chunks (acknowledged by the broker); memory stores them as it reads them."""
        await self._send_each(events, progress)
        return len(events)

    async def _send_each(self, events: list[MemoryKnowledgeIngested], progress: Callable[[int], None] | None) -> None:
        await self._send(*events, progress=progress)
