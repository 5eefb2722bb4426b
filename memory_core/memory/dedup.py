"""The same fact told again, and a fact that corrects an older one.

Thresholds, measured with MiniLM (all-MiniLM-L6-v2) on 30 paraphrase pairs (the same fact in other
words) and 30 pairs of different facts on the same topic by the same speaker (``memex`` issue 12
report; the pairs are in tests/memory/test_memory_dedup.py):

* paraphrases: min 0.829, 10th percentile 0.844, median 0.950
* different facts: median 0.618, 90th percentile 0.790, max 0.900 ("My mum's name is Helen." vs
  "My aunt's name is Helen.")

``DUPLICATE_THRESHOLD = 0.91`` merges 25/30 paraphrases and 0/30 different facts. A missed merge
leaves a second note (visible, easy to merge by hand); a wrong merge hides a new fact inside an
old note, so the threshold sits above every different-facts pair. As a second guard, a turn that
names a person, place or number the old note does not is never a duplicate ("Lena lives in Porto"
vs "Lena lives in Lisbon").

A correction ("Actually Lena moved to Lisbon" after "Lena lives in Porto") is judged by
``memory.corrections``: the same subject, the same attribute, a new value, and a correction marker
("actually", "moved to", "no longer", "now", ...). The old note is closed, not deleted; when the rules
are unsure, the person is asked in Review. The nearest notes are not enough candidates: "Actually my
brother moved to Porto Alegre" is far (cosine 0.36) from "My brother Mateus is a dentist in
Curitiba", so the notes naming the same relation or name are candidates too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ..notes import Note
from ..retrieval.entities import entities, mentions
from . import corrections
from .corrections import Verdict

if TYPE_CHECKING:
    from ..store import Store

DUPLICATE_THRESHOLD = 0.91
CORRECTION_THRESHOLD = corrections.MARKER_SIMILARITY
CANDIDATES = 8
SUBJECT_CANDIDATES = 6  # notes naming the same relation or name, beyond the nearest
_NUMBER_RE = re.compile(r"\d+")


@dataclass
class Match:
    note: Note
    similarity: float


def facts_of(text: str) -> set[str]:
    """Names and numbers in a text: what a duplicate must not add."""
    return entities(text) | set(_NUMBER_RE.findall(text))


def candidates(store: Store, vec: np.ndarray, speaker: str, content_vec_of: Any, text: str = "") -> list[Match]:
    """Current notes of the same speaker nearest to ``vec``, and those naming a relation or name ``text``
    names, with their content-to-content cosine.

    The store's vectors include enrichment (context, tags); a duplicate is about what was *said*, so
    the nearest few are re-embedded on their content alone (``content_vec_of``).
    """
    near = [nb.note for nb in store.nearest(vec, CANDIDATES)]
    pool = [n for n in [*near, *_same_names(store, text)] if n.speaker == speaker and not n.superseded_by]
    pool = list({n.id: n for n in pool}.values())
    if not pool:
        return []
    sims = content_vec_of([n.content for n in pool]) @ np.asarray(vec, dtype=np.float32)
    return sorted((Match(n, float(s)) for n, s in zip(pool, sims)), key=lambda m: -m.similarity)


def find_duplicate(text: str, matches: list[Match]) -> Match | None:
    new_facts = facts_of(text)
    for m in matches:
        if m.similarity < DUPLICATE_THRESHOLD:
            break
        if new_facts <= facts_of(m.note.content):
            return m
    return None


def _same_names(store: Store, text: str) -> list[Note]:
    """The most recent current notes naming a relation or name ``text`` names ("my brother", "Lena")."""
    keys = set(mentions(text)) if text else set()
    if not keys:
        return []
    from ..retrieval.signals import context_index

    notes = store.notes_view()
    if not notes:
        return []
    known = context_index(store, notes).entities()  # kept up to date per note, not read again per turn
    hits = [notes[nid] for nid, found in known.items() if nid in notes and keys & found
            and not notes[nid].superseded_by]
    hits.sort(key=lambda n: n.timestamp, reverse=True)
    return hits[:SUBJECT_CANDIDATES]


def find_corrected(text: str, matches: list[Match]) -> Verdict | None:
    """The note a correction replaces (``sure``) or may replace (ask the person), or None."""
    return corrections.find(text, matches)
