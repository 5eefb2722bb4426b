"""Count phrases agree with their number (a browser trial found "1 links drawn" on the Graph page)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from memory_core.explore.wording import agree, count, plural

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(("n", "noun", "expected"), [
    (1, "link", "1 link"), (0, "link", "0 links"), (2, "link", "2 links"), (1204, "note", "1,204 notes"),
    (1, "memory", "1 memory"), (3, "memory", "3 memories"), (2, "day", "2 days"), (2, "match", "2 matches"),
    (2, "box", "2 boxes"), (1, "recalled note", "1 recalled note"), (5, "recalled note", "5 recalled notes"),
])
def test_count_agrees_with_the_number(n: int, noun: str, expected: str) -> None:
    assert count(n, noun) == expected


def test_an_irregular_plural_is_passed_in() -> None:
    assert count(1, "person", "people") == "1 person" and count(4, "person", "people") == "4 people"
    assert plural("key") == "keys" and plural("y") == "ys"


def test_agree_picks_the_verb_form() -> None:
    assert f"{count(1, 'note')} {agree(1, 'is', 'are')}" == "1 note is"
    assert f"{count(2, 'note')} {agree(2, 'is', 'are')}" == "2 notes are"


def test_the_graph_summary_says_1_link_not_1_links() -> None:
    from memory_core.explore.graphview import GraphQuery, GraphView

    view = GraphView(query=GraphQuery(), node_ids=["a", "b"], edges=[("a", "b", {})], matched=2, total=2, chosen_by="all")
    assert "; 1 link drawn; the store holds 2 notes." in view.summary


PAREN_PLURAL = re.compile(r"[a-z]\((s|es)\)")


def hand_made(node: ast.AST) -> bool:
    """A literal "note(s)", or a ternary that picks "s" or "" (``'s' if n != 1 else ''``)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return bool(PAREN_PLURAL.search(node.value))
    if isinstance(node, ast.IfExp):
        branches = {b.value for b in (node.body, node.orelse) if isinstance(b, ast.Constant)}
        return bool(branches & {"s", "es"}) and branches <= {"s", "es", ""}
    return False


def test_no_page_or_view_builds_a_count_phrase_by_hand() -> None:
    """Every phrase in pages/ and memory_core/explore/ leaves plurals to ``count``: no "note(s)" and no
    hand-written ``'s' if n != 1`` (they drift and get forgotten, as "1 links drawn" did)."""
    files = [*ROOT.glob("pages/**/*.py"), *ROOT.glob("memory_core/explore/*.py"), ROOT / "app.py"]
    found = []
    for path in files:
        if path.name == "wording.py":
            continue
        source = path.read_text()
        for node in ast.walk(ast.parse(source)):
            if hand_made(node):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {ast.get_source_segment(source, node)}")
    assert not found, "\n".join(found)
