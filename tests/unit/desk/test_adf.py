"""A Jira description or comment in Atlassian Document Format reads as the words the person wrote."""

from __future__ import annotations

import pytest

from runtime.vendor.adf import to_text


def doc(*content: dict) -> dict:
    return {"version": 1, "type": "doc", "content": list(content)}


def p(*inline: dict) -> dict:
    return {"type": "paragraph", "content": list(inline)}


def t(text: str, *marks: str) -> dict:
    node: dict = {"type": "text", "text": text}
    if marks:
        node["marks"] = [{"type": m} for m in marks]
    return node


def item(*content: dict) -> dict:
    return {"type": "listItem", "content": list(content)}


def test_paragraphs_become_lines_and_formatting_is_dropped() -> None:
    assert to_text(doc(p(t("Hello "), t("world", "strong"), t("!")), p(t("Second")))) == "Hello world!\nSecond"


def test_a_hard_break_is_a_new_line() -> None:
    assert to_text(doc(p(t("one"), {"type": "hardBreak"}, t("two")))) == "one\ntwo"


def test_lists_keep_their_bullets_and_numbers() -> None:
    bullets = {"type": "bulletList", "content": [item(p(t("a"))), item(p(t("b")))]}
    numbered = {"type": "orderedList", "attrs": {"order": 3}, "content": [item(p(t("c"))), item(p(t("d")))]}
    assert to_text(doc(bullets, numbered)) == "- a\n- b\n3. c\n4. d"


def test_a_nested_list_is_indented_under_its_item() -> None:
    nested = {"type": "bulletList", "content": [item(p(t("outer")), {"type": "bulletList", "content": [item(p(t("inner")))]})]}
    assert to_text(doc(nested)) == "- outer\n  - inner"


def test_mentions_emoji_links_and_dates_are_named() -> None:
    text = to_text(doc(p(
        {"type": "mention", "attrs": {"id": "5b10ac8d", "text": "@Ana Silva"}}, t(" see "),
        {"type": "inlineCard", "attrs": {"url": "https://acme.example/kb/42"}}, t(" "),
        {"type": "emoji", "attrs": {"shortName": ":smile:", "text": "😄"}}, t(" by "),
        {"type": "date", "attrs": {"timestamp": "1796169600000"}},
    )))
    assert text == "@Ana Silva see https://acme.example/kb/42 😄 by 2026-12-02"


def test_code_blocks_and_quotes_keep_their_lines() -> None:
    code = {"type": "codeBlock", "attrs": {"language": "bash"}, "content": [t("ping vpn\ntraceroute vpn")]}
    quote = {"type": "blockquote", "content": [p(t("quoted"))]}
    assert to_text(doc(code, quote)) == "ping vpn\ntraceroute vpn\n> quoted"


def test_a_table_reads_row_by_row() -> None:
    cell = lambda s: {"type": "tableCell", "content": [p(t(s))]}  # noqa: E731
    table = {"type": "table", "content": [{"type": "tableRow", "content": [cell("laptop"), cell("LT-42")]}]}
    assert to_text(doc(table)) == "laptop | LT-42"


def test_media_is_named_an_attachment() -> None:
    assert to_text(doc({"type": "mediaSingle", "content": [{"type": "media", "attrs": {"id": "x", "type": "file"}}]})) == "[attachment]"


def test_an_unknown_node_is_read_through_its_content() -> None:
    assert to_text(doc({"type": "someFutureBlock", "content": [p(t("still read"))]})) == "still read"


def test_a_plain_string_is_taken_as_it_is_and_none_as_empty() -> None:
    assert to_text("wiki *markup*") == "wiki *markup*"
    assert to_text(None) == ""


def test_a_document_nested_beyond_reason_is_cut_not_recursed_into() -> None:
    node: dict = p(t("deep"))
    for _ in range(5000):
        node = {"type": "blockquote", "content": [node]}
    assert "deep" not in to_text(doc(node))


def test_junk_inside_a_document_is_skipped() -> None:
    assert to_text(doc(p(t("ok"), "junk", 42, {"type": "text", "text": 7}))) == "ok"  # type: ignore[arg-type]


def test_rich_text_of_another_type_is_refused() -> None:
    with pytest.raises(ValueError, match="ADF document or a string"):
        to_text(42)
