"""The four ranking signals: lexical and dense, each on the note alone and on the note with its context.

Why note+context: a turn such as "Yes, it was amazing!" means nothing alone; indexed with the turn
before it ("How was the Radiohead concert?") it is found by "concert". The store indexes each note
(BM25 over content+enrichment, one vector of content+enrichment); this module keeps the second
pair, over note+turn_context, derived from the store and updated incrementally: a note is
re-indexed only when its text or its context changed (notes are replaced on commit, never changed
in place, so an identity check finds the changed ones).
"""

from __future__ import annotations

import re
import threading
from typing import TYPE_CHECKING

import numpy as np

from ..notes import Note
from ..store.lexical import BM25Index
from .entities import mentions
from .per_object import PerObject

if TYPE_CHECKING:
    from ..models.embeddings import Embedder
    from ..store import Store

LexicalHits = dict[str, tuple[float, list[str]]]
SPEAKER_SHARE = 0.05
_PREFIX_RE = re.compile(r"^\s*([A-Z][\w'-]{0,30}(?: [A-Z][\w'-]{0,30})?):\s")


def speaker_of(note: Note) -> str:
    """Who said the note, lower case: its speaker, or the "Name:" its content opens with (LoCoMo turns)."""
    if note.speaker:
        return note.speaker.lower()
    m = _PREFIX_RE.match(note.content)
    return m.group(1).lower() if m else ""


def lexical_text(note: Note) -> str:
    return " ".join([note.content, " ".join(note.keywords), " ".join(note.tags), note.context])


def context_text(note: Note) -> str:
    """The note with what was said before it; the context comes first, as in the conversation."""
    return f"{note.turn_context}\n{note.content}" if note.turn_context else note.content


class ContextIndex:
    """BM25 and vectors over note+context, and each note's entities, for one store."""

    def __init__(self) -> None:
        self.bm25 = BM25Index()
        self._lock = threading.RLock()
        self._seen: dict[str, Note] = {}
        self._keys: dict[str, tuple[str, str]] = {}
        self._vecs: dict[str, np.ndarray] = {}
        self._matrix: tuple[list[str], np.ndarray] | None = None
        self._mentions: dict[str, dict[str, bool]] = {}
        self._entities: dict[str, set[str]] | None = None
        self._by_entity: tuple[dict[str, list[str]], dict[str, int]] | None = None  # and each key's count
        self._speaker: dict[str, str] = {}
        self._speakers: set[str] | None = None
        self._revision: int | None = None  # the store revision last synced with (None: unknown)

    def sync(self, notes: dict[str, Note], embedder: Embedder, revision: int | None = None) -> None:
        """Index what changed in ``notes``. With the store revision ``notes`` was taken at, an
        unchanged store costs nothing instead of a look at every note (~10 ms per 10k notes)."""
        with self._lock:
            if revision is not None and revision == self._revision:
                return
            todo: list[Note] = []
            for nid, note in notes.items():
                if self._seen.get(nid) is note:
                    continue
                self._seen[nid] = note
                key = (note.content + "\x00" + " ".join(note.keywords + note.tags) + note.context, note.turn_context)
                if self._keys.get(nid) == key:
                    continue
                self._keys[nid] = key
                self.bm25.upsert(nid, lexical_text(note) + " " + note.turn_context)
                self._mentions[nid] = mentions(note.content)
                self._speaker[nid] = speaker_of(note)
                self._speakers = None
                self._entities = None
                self._vecs.pop(nid, None)
                self._matrix = None
                if note.turn_context:
                    todo.append(note)
            for nid in [i for i in self._seen if i not in notes]:
                self._speakers = None
                for table in (self._seen, self._keys, self._vecs, self._mentions, self._speaker):
                    table.pop(nid, None)
                self.bm25.remove(nid)
                self._matrix = None
                self._entities = None
            for start in range(0, len(todo), 256):
                chunk = todo[start:start + 256]
                vecs = embedder.embed([context_text(n) for n in chunk])
                for note, vec in zip(chunk, vecs):
                    self._vecs[note.id] = np.asarray(vec, dtype=np.float32)
                    self._matrix = None
            self._revision = revision

    def dense(self, query_vec: np.ndarray, n: int) -> dict[str, float]:
        """Cosine of the query with note+context, for the notes that have a context."""
        with self._lock:
            if self._matrix is None:
                ids = list(self._vecs)
                self._matrix = (ids, np.vstack([self._vecs[i] for i in ids]) if ids else np.zeros((0, 1)))
            ids, matrix = self._matrix
        if not ids or n <= 0:
            return {}
        sims = matrix @ np.asarray(query_vec, dtype=np.float32)
        n = min(n, len(ids))
        top = np.argpartition(-sims, n - 1)[:n]
        return {ids[i]: float(sims[i]) for i in top}

    def lexical(self, query: str, n: int) -> LexicalHits:
        with self._lock:
            return {doc: (score, terms) for doc, score, terms in self.bm25.search(query, n)}

    def entities(self) -> dict[str, set[str]]:
        """Note id -> entity keys (weak mentions count when the name is a strong mention anywhere)."""
        with self._lock:
            if self._entities is None:
                strong = {key for found in self._mentions.values() for key, s in found.items() if s}
                self._entities = {nid: {k for k, s in found.items() if s or k in strong}
                                  for nid, found in self._mentions.items()}
                self._by_entity = None
            return self._entities

    def speakers(self) -> set[str]:
        """The (lower-case) names that speak at least SPEAKER_SHARE of the notes: in a question they
        name whose words to look in, not what the question is about."""
        with self._lock:
            if self._speakers is None:
                counts: dict[str, int] = {}
                for name in self._speaker.values():
                    if name:
                        counts[name] = counts.get(name, 0) + 1
                least = SPEAKER_SHARE * max(1, len(self._speaker))
                self._speakers = {name for name, n in counts.items() if n >= least}
            return self._speakers

    def speaker(self, nid: str) -> str:
        """Who said note ``nid`` (lower case; "" when unknown)."""
        with self._lock:
            return self._speaker.get(nid, "")

    def by_entity(self) -> dict[str, list[str]]:
        """Entity key -> the notes that name it (the inverse of ``entities``), built once per change."""
        return self._inverse()[0]

    def entity_df(self) -> dict[str, int]:
        """Entity key -> how many notes name it (built with ``by_entity``: a query reads it twice)."""
        return self._inverse()[1]

    def _inverse(self) -> tuple[dict[str, list[str]], dict[str, int]]:
        ents = self.entities()
        with self._lock:
            if self._by_entity is None:
                inverse: dict[str, list[str]] = {}
                for nid, keys in ents.items():
                    for key in keys:
                        inverse.setdefault(key, []).append(nid)
                self._by_entity = (inverse, {key: len(ids) for key, ids in inverse.items()})
            return self._by_entity


_BY_STORE: PerObject[ContextIndex] = PerObject(ContextIndex)


def context_index(store: Store, notes: dict[str, Note]) -> ContextIndex:
    """The store's context index, brought up to date with ``notes`` (embeds new contexts only).
    A ``notes_view()`` carries the store revision it was taken at: then an unchanged store costs nothing."""
    index = _BY_STORE(store)
    index.sync(notes, store.embedder, getattr(notes, "revision", None))
    return index


def dense_signal(store: Store, query_vec: np.ndarray, n: int) -> dict[str, float]:
    if not len(store) or n <= 0:
        return {}
    return dict(store.nearest_ids(query_vec, n))


def lexical_signal(store: Store, query: str, n: int) -> LexicalHits:
    return {doc: (score, terms) for doc, score, terms in store.lexical.search(query, n)}
