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

A correction ("Actually Lena moved to Lisbon" after "Lena lives in Porto") is a turn with a
correction marker ("actually", "moved to", "instead", "now ..."), closest to a current note of
the same speaker with cosine >= ``CORRECTION_THRESHOLD``, or naming the same entity with cosine >=
``CORRECTION_ENTITY_THRESHOLD``: the old note is closed, not deleted. Measured on 10 (old fact,
correction) pairs: the correction's cosine to the fact it corrects is 0.657-0.790; to the other
facts of the benchmark conversation (leaving out restatements of the same fact) at most 0.47. The
marker is required, so a new fact close to an old one is never taken for a correction.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..notes import Note
from ..retrieval.entities import entities, mentions

DUPLICATE_THRESHOLD = 0.91
CORRECTION_THRESHOLD = 0.6
CORRECTION_ENTITY_THRESHOLD = 0.5
CANDIDATES = 8
_NUMBER_RE = re.compile(r"\d+")
CORRECTION_RE = re.compile(
    r"\b(actually|no longer|not anymore|any ?more|instead|correction|turns out|i was wrong|that's wrong|"
    r"that was wrong|i meant|scratch that|moved to|now (lives?|works?|is|are|has|have)|changed|switched|"
    r"quit|not true|rather|now|sold|no more|used to|stopped|gave up)\b", re.IGNORECASE)


@dataclass
class Match:
    note: Note
    similarity: float


def facts_of(text: str) -> set[str]:
    """Names and numbers in a text: what a duplicate must not add."""
    return entities(text) | set(_NUMBER_RE.findall(text))


def candidates(store: Any, vec: np.ndarray, speaker: str, content_vec_of: Any) -> list[Match]:
    """Current notes of the same speaker nearest to ``vec``, with their content-to-content cosine.

    The store's vectors include enrichment (context, tags); a duplicate is about what was *said*, so
    the nearest few are re-embedded on their content alone (``content_vec_of``).
    """
    near = store.nearest(vec, CANDIDATES)
    pool = [nb.note for nb in near if nb.note.speaker == speaker and not nb.note.superseded_by]
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


def find_corrected(text: str, matches: list[Match]) -> Match | None:
    """The note a correction replaces, or None when the turn is no correction."""
    if not CORRECTION_RE.search(text):
        return None
    names = set(mentions(text))  # weak mentions too: "Lena lives in Porto." opens with the name
    for m in matches:
        shared = bool(names & set(mentions(m.note.content)))
        if m.similarity >= CORRECTION_THRESHOLD or (shared and m.similarity >= CORRECTION_ENTITY_THRESHOLD):
            return m
    return None
