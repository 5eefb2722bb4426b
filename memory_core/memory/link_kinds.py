"""What kind of link a link is: who made it, and for the rules, which rule.

Why a function of ``by`` and the reason rather than a stored field: a link has carried ``by`` and a
reason since the first store format, and the rules write their reasons from fixed patterns (this
package's ``linking``, ``bulk`` and ``import_links``; ``supersede``), so every link ever stored can be
told apart without a migration. The patterns live here, beside the rule that reads them back.

Kinds (the Graph page's "link kinds", ``memex bench links``' rows):

* ``similarity``   - fast mode's "similar (cosine 0.61)": two notes close in meaning, nothing more said;
* ``entity``       - "Both name Biscuit." / "Both are about my brother.": the same person, pet, place or thing;
* ``topic``        - "Both are about basil (cosine 0.48).": a specific content word and close in meaning;
* ``continuation`` - "Continues “Lena is coming …”.": the next fact of the same conversation;
* ``correction``   - "Corrects an earlier note.": the note that replaced another;
* ``model``        - the model's link ideas (A-MEM's linker, an accepted proposal, evolution);
* ``person``       - drawn by the person (by hand, or a [[wikilink]] in their vault);
* ``digest``       - a digest or profile line citing the notes it came from (consolidation);
* ``other``        - anything else (a link that came with an import under another name).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..notes import CONSOLIDATION

KINDS: tuple[str, ...] = ("similarity", "entity", "topic", "continuation", "correction", "model", "person",
                          "digest", "other")
LABELS: dict[str, str] = {
    "similarity": "similar in meaning (fast mode)",
    "entity": "the same person, pet, place or thing",
    "topic": "a shared topic word",
    "continuation": "one fact continuing another",
    "correction": "a correction of an older note",
    "model": "the model's links",
    "person": "your own links",
    "digest": "a digest citing its notes",
    "other": "other links",
}
SIMILAR_PREFIX = "similar (cosine "
CONTINUES_PREFIX = "Continues "
CORRECTS_REASON = "Corrects an earlier note."
_MODEL_ACTORS = ("linker", "evolver")
_PERSON_ACTORS = ("person", "wikilink")


def similar_reason(cosine: float) -> str:
    """Fast mode's reason for a link by similarity alone."""
    return f"{SIMILAR_PREFIX}{cosine:.2f})"


def link_kind(by: str, reason: str) -> str:
    """The kind of a link made by ``by`` with ``reason`` (one of ``KINDS``)."""
    actor = (by or "").split(":", 1)[0]
    if actor in _PERSON_ACTORS:
        return "person"
    if actor in _MODEL_ACTORS:
        return "model"
    if actor == CONSOLIDATION:
        return "digest"
    if actor != "system":
        return "other"
    text = reason or ""
    if text.startswith(SIMILAR_PREFIX):
        return "similarity"
    if text.startswith(CONTINUES_PREFIX):
        return "continuation"
    if text == CORRECTS_REASON:
        return "correction"
    if text.startswith("Both ") and "(cosine " in text:
        return "topic"
    if text.startswith(("Both name ", "Both are about ")):
        return "entity"
    return "other"


def kind_of(attrs: Mapping[str, Any]) -> str:
    """The kind of a graph edge (its attributes carry the link's ``by`` and ``reason``)."""
    return link_kind(str(attrs.get("by", "")), str(attrs.get("reason", "")))
