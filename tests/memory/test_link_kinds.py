"""Every link the code makes is told apart by kind: the reasons come from the functions that write them."""

from __future__ import annotations

import pytest

from memory_core.memory import supersede
from memory_core.memory.link_kinds import KINDS, LABELS, kind_of, link_kind, similar_reason
from memory_core.memory.linking import CONTINUES_PREFIX, entity_reason, topic_reason


@pytest.mark.parametrize(("by", "reason", "kind"), [
    ("system", similar_reason(0.61), "similarity"),
    ("system", entity_reason("biscuit"), "entity"),
    ("system", entity_reason("my dog", "pipoca"), "entity"),
    ("system", entity_reason("pipoca", "my dog"), "entity"),
    ("system", topic_reason("basil", 0.48), "topic"),
    ("system", topic_reason("basil, tomatoes and soil", 0.52), "topic"),
    ("system", f"{CONTINUES_PREFIX}“Lena is coming to visit.”.", "continuation"),
    ("system", supersede.LINK_REASON, "correction"),
    ("linker", "both about Anna", "model"),
    ("evolver", "accepted in Review", "model"),
    ("linker:SmolLM2-135M", "x", "model"),
    ("person", "linked by hand", "person"),
    ("wikilink", "a [[wikilink]] in the vault", "person"),
    ("consolidation", "cited", "digest"),
    ("import", "came along", "other"),
    ("system", "synthetic link", "other"),
    ("", "", "other"),
])
def test_each_reason_the_code_writes_has_its_kind(by: str, reason: str, kind: str) -> None:
    assert link_kind(by, reason) == kind
    assert kind_of({"by": by, "reason": reason}) == kind


def test_every_kind_has_a_label() -> None:
    assert set(LABELS) == set(KINDS)
