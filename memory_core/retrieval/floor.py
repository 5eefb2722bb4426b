"""The chat's relevance floor: a recalled note is shown and given to the model only when it truly matches.

Why an absolute floor: fusion (``fusion.py``) scales each signal over the handful of candidates a
query returns, so the best of several weak matches always scores 1.0 ("context: matched bike (bm25
1.3); dense: similarity 0.05" came first for "What color is my bike?"). The fused order is good for
ranking; it says nothing about whether any candidate is related at all. The floor reads the
unscaled MiniLM cosine instead, which means the same thing whatever the other candidates are.

How it was chosen (``tests/fixtures/relevance_pairs.json``: 48 query-note pairs where the note
answers the query, every query against the 47 other notes (2,256 pairs of different topics), 20
hard negatives sharing a word but not the meaning, 8 acknowledgements against every note), with the
bundled all-MiniLM-L6-v2:

    cosine floor   relevant kept   other topics passed   hard negatives passed   acknowledgements passed
    0.200          47/48           194/2256 (8.6%)       16/20                   13/544
    0.250          45/48           86/2256 (3.8%)        14/20                    3/544
    0.300          43/48           31/2256 (1.4%)        11/20                    1/544
    0.350          40/48           16/2256 (0.7%)         9/20                    0/544

``DENSE_FLOOR = 0.25`` keeps 94% of the answers and drops 96% of the unrelated notes; above it,
answers were lost faster than unrelated notes (a missed answer costs more than a weak note the
person can ignore). Raw BM25 does not separate the two (one shared word scores 2.7-4.7 in both, and
its scale moves with the number of notes), so it rescues nothing: adding "or BM25 > 0 with cosine
>= 0.2" gained no relevant pair. Hard negatives ("hives" the rash vs bee hives) stay the ranking's
job, not the floor's.

A note's strength is its own words' cosine with the query and, for a long note, the cosine of its
best-matching sentence (a 50k-character diary is one vector of its first few hundred words). That
sentence is also what the chat quotes: a long note is never quoted whole. The note-with-context
cosine is left out on purpose: the context is what was said before the note, so it pulls in a note
for its neighbour's words (the issue's "I'm vegetarian since 2015." had a note+context cosine of
0.39 for "What color is my bike?" because the turn before it spoke of a bike, and 0.04 on its own).
The context still helps rank the notes that pass; what is shown must match by its own words.

A note inside the time span the message named ("What did I do on May 2nd?") passes whatever its
cosine: the day is what was asked about, and such a question shares little meaning with the
note that answers it ("I went hiking with Sam": 0.27; "Work was stressful today": 0.35; "I made
lentil soup" for "What did I cook on the 4th?": 0.44, but "I watched Arrival" for "What did we
talk about yesterday?": 0.16). The span's notes are ranked by meaning, and the prompt's limits
decide how many the model reads.

The Search page does not use the floor: an explicit search keeps its ranking and shows every note
the words or the meaning matched, so nothing the person typed exactly is ever hidden there.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ..store.lexical import tokenize
from .hit import Hit
from .per_object import PerObject
from .spanrank import is_in_span

if TYPE_CHECKING:
    from ..models.embeddings import Embedder

DENSE_FLOOR = 0.25
MEASURED_EMBEDDER = "all-MiniLM-L6-v2"  # the floor was measured on this model's cosines
LONG_NOTE_CHARS = 300  # a note longer than this is quoted by its best sentence, not whole
PASSAGE_CHARS = 300  # ... and that sentence (with a neighbour when it is very short) is cut to this
MAX_SENTENCES = 24  # sentences of one long note embedded at most: the lexical best ones, then the first ones
_SENTENCE_RE = re.compile(r"(?<=[.!?])\s+|\n+")
_CACHE_SIZE = 2048  # sentence vectors kept (per process): a note recalled again costs no embedding


@dataclass
class Passed:
    """A hit above the floor, with the sentence to quote (the whole note when short) and its strength."""

    hit: Hit
    passage: str
    strength: float


def sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE_RE.split(text) if s.strip()]


class _VectorCache:
    """Sentence vectors by text, least recently used out first."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._data: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def vectors(self, embedder: Embedder, texts: list[str]) -> list[np.ndarray]:
        with self._lock:
            missing = [t for t in dict.fromkeys(texts) if t not in self._data]
        if missing:
            fresh = embedder.embed(missing)
            with self._lock:
                for t, v in zip(missing, fresh):
                    self._data[t] = np.asarray(v, dtype=np.float32)
                while len(self._data) > self.size:
                    self._data.popitem(last=False)
        with self._lock:
            out = []
            for t in texts:
                self._data.move_to_end(t)
                out.append(self._data[t])
            return out


_BY_EMBEDDER: PerObject[_VectorCache] = PerObject(lambda: _VectorCache(_CACHE_SIZE))


def _cache(embedder: Embedder) -> _VectorCache:
    """One cache per embedder: two models' vectors never meet."""
    return _BY_EMBEDDER(embedder)


def _candidates(query: str, parts: list[str]) -> list[int]:
    """Which sentences of a long note to embed: those sharing most query words, then the first ones."""
    q = set(tokenize(query))
    overlap = [(len(q & set(tokenize(s))), i) for i, s in enumerate(parts)]
    shared = [i for n, i in sorted(overlap, key=lambda x: (-x[0], x[1])) if n > 0][:MAX_SENTENCES // 2]
    rest = [i for i in range(len(parts)) if i not in shared][:MAX_SENTENCES - len(shared)]
    return shared + rest


def best_sentence(query: str, query_vec: np.ndarray, text: str, embedder: Embedder) -> tuple[str, float]:
    """The sentence of ``text`` closest in meaning to the query (its cosine); a very short one is
    quoted with the next sentence, so "Yes!" never stands alone."""
    parts = sentences(text)
    if not parts:
        return text[:PASSAGE_CHARS], 0.0
    chosen = _candidates(query, parts)
    vecs = _cache(embedder).vectors(embedder, [parts[i][:1000] for i in chosen])
    sims = [float(np.dot(v, query_vec)) for v in vecs]
    best = int(np.argmax(sims))
    i = chosen[best]
    passage = parts[i]
    if len(passage) < 40 and i + 1 < len(parts):
        passage = f"{passage} {parts[i + 1]}"
    if len(passage) > PASSAGE_CHARS:
        passage = passage[:PASSAGE_CHARS - 1].rstrip() + "…"
    return passage, sims[best]


def floor_for(embedder: Embedder) -> float:
    """The floor for this embedder's cosines: ``DENSE_FLOOR`` for the bundled MiniLM it was measured on.

    Another embedding model (a GGUF one) has its own cosine scale, on which 0.25 may mean "related"
    or "unrelated": with no measurement for it, no floor (every recalled note is kept, as before),
    rather than a guess that could hide every answer. ``LazyEmbedder`` is asked for its real name."""
    name = str(getattr(embedder, "name", ""))
    return DENSE_FLOOR if name == MEASURED_EMBEDDER else 0.0


def note_strength(hit: Hit) -> float:
    """The unscaled cosine of the note's own words with the query; 0 when the hit had none."""
    return max(0.0, hit.dense, float((hit.raw or {}).get("dense", 0.0)))


def above_floor(query: str, hits: list[Hit], embedder: Embedder, query_vec: np.ndarray | None = None,
                floor: float | None = None) -> list[Passed]:
    """The hits whose strength reaches ``floor`` (default: ``floor_for(embedder)``), in their order,
    each with the passage to quote.

    A long note (or one with no cosine of its own, e.g. reached through a link) is measured by its
    best sentence as well; a short note is quoted whole."""
    if not hits:
        return []
    if floor is None:
        floor = floor_for(embedder)
    if query_vec is None:
        query_vec = np.asarray(embedder.embed([query])[0], dtype=np.float32)
    out = []
    for hit in hits:
        words = persons_words(hit.note.content)
        strength = note_strength(hit)
        passage = words
        if len(words) > LONG_NOTE_CHARS or strength <= 0.0:
            passage, sentence_sim = best_sentence(query, query_vec, words, embedder)
            strength = max(strength, sentence_sim)
        if strength >= floor or is_in_span(hit):
            out.append(Passed(hit, passage, strength))
    return out


def persons_words(content: str) -> str:
    """The person's own words of a note; older notes held a whole exchange ("Person: ... / Memex: ...")
    and only the first part is the person's (a reply is never offered back to the model as a fact)."""
    if content.startswith("Person: ") and "\nMemex:" in content:
        return content[len("Person: "):content.index("\nMemex:")].strip()
    return content
