"""Knowledge ingestion on the CLI side: documents of each format read to text, redacted, cut into
paragraph-aligned chunks and turned into memory.knowledge events with repeatable ids."""

from __future__ import annotations

from pathlib import Path

import pytest

from contracts import codec
from contracts.envelope import Actor
from deploy.memory import CHUNK_CHARS, chunks, files, knowledge_events, read_document


def pdf_with_text(path: Path, lines: list[str]) -> Path:
    """A minimal one-page PDF with real text objects (what pypdf extracts from)."""
    content = "BT /F1 12 Tf 72 720 Td " + " ".join(f"({line}) Tj 0 -16 Td" for line in lines) + " ET"
    objects = [
        "<< /Type /Catalog /Pages 2 0 R >>",
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>",
        f"<< /Length {len(content)} >>\nstream\n{content}\nendstream",
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    body, offsets = b"%PDF-1.4\n", []
    for number, obj in enumerate(objects, 1):
        offsets.append(len(body))
        body += f"{number} 0 obj\n{obj}\nendobj\n".encode()
    xref = len(body)
    body += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode() + "".join(f"{o:010d} 00000 n \n" for o in offsets).encode()
    body += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    path.write_bytes(body)
    return path


def test_markdown_html_text_and_pdf_are_read_to_text(tmp_path: Path) -> None:
    (tmp_path / "vpn.md").write_text("# VPN runbook\n\nReissue the certificate.\n\n\n\nThen   restart.")
    (tmp_path / "mail.html").write_text("<html><head><title>Mail</title><style>p{}</style></head><body><nav>menu</nav><p>Repair &amp; restart Outlook.</p><script>x()</script></body></html>")
    (tmp_path / "notes.txt").write_text("plain notes")
    pdf_with_text(tmp_path / "policy.pdf", ["Laptops are replaced", "every three years."])
    (tmp_path / "image.png").write_bytes(b"\x89PNG")
    found = files(tmp_path)
    assert [p.name for p in found] == ["mail.html", "notes.txt", "policy.pdf", "vpn.md"]
    docs = {p.name: read_document(p) for p in found}
    assert (docs["vpn.md"].title, docs["vpn.md"].text) == ("VPN runbook", "# VPN runbook\n\nReissue the certificate.\n\nThen restart.")
    assert (docs["mail.html"].title, docs["mail.html"].text) == ("Mail", "Repair & restart Outlook.")
    assert "Laptops are replaced" in docs["policy.pdf"].text and "every three years." in docs["policy.pdf"].text
    with pytest.raises(ValueError, match="cannot ingest .png"):
        read_document(tmp_path / "image.png")


def test_chunks_follow_paragraphs_stay_under_the_size_and_cover_the_text() -> None:
    paragraphs = [f"Paragraph {i}. " + "word " * (30 + 40 * (i % 5)) for i in range(30)]
    long = "Sentence about VPN certificates. " * 200
    text = "\n\n".join([*paragraphs, long])
    parts = chunks(text)
    assert all(0 < len(p) <= CHUNK_CHARS for p in parts)
    assert len(parts) > 5
    for paragraph in paragraphs:
        assert any(paragraph.strip() in p for p in parts), "a short paragraph is never cut"
    assert sum(p.count("Sentence about VPN") for p in parts) >= 200, "a long paragraph is cut, with overlap, losing nothing"


def test_chunks_become_redacted_events_whose_ids_repeat_for_the_same_document(tmp_path: Path) -> None:
    path = tmp_path / "doc.md"
    path.write_text("# Access\n\nThe admin password: hunter2 must never be shared.\n\n" + "More text. " * 400)
    first = list(knowledge_events(read_document(path), team="it-support", actor=Actor.human("priya.raman")))
    again = list(knowledge_events(read_document(path), team="it-support", actor=Actor.human("priya.raman")))
    assert len(first) >= 2 and [e.id for e in first] == [e.id for e in again]
    assert [e.data.chunk for e in first] == list(range(len(first))) and {e.data.chunks for e in first} == {len(first)}
    assert "hunter2" not in first[0].data.text and "[REDACTED]" in first[0].data.text
    assert all(codec.decode(codec.encode(e)) == e for e in first)
    path.write_text("# Access\n\nChanged.")
    changed = list(knowledge_events(read_document(path), team="it-support", actor=Actor.human("priya.raman")))
    assert changed[0].data.document_id == first[0].data.document_id and changed[0].id != first[0].id
