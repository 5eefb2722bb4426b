"""The rules' links during a fast import: the same names and the same topic words as a chat turn gets.

Why not ``linking.rule_links`` per note: it reads the store, and a fast import writes a whole batch
of notes at once (``bulk``), so the notes of one batch never saw each other: three garden notes
about tomatoes and basil imported together got 0 links, and every LoCoMo conversation ingested for
the benchmarks had similarity links only. ``rule_links`` also re-reads every note's entities for
each new note (O(N) a note). ``ImportLinker`` keeps postings (content word -> notes, name -> notes)
that grow note by note, so each imported note links to every note before it, stored or imported,
at a cost that grows with what it shares rather than with the store.

The rules and their thresholds are ``linking``'s (its module docstring gives the measured pairs):

* **a name** both notes carry (a strong mention, or a weak one of a name strong somewhere), named by
  at most ``MAX_SHARE`` of the notes (a speaker's own name links nothing); the ``MAX_PER_ENTITY``
  most recent holders per name, ``MAX_LINKS`` in all; "my dog" and "Pipoca" are one when a note
  says "a dog called Pipoca";
* **a topic word**: a content word (not a stopword, not a generic word such as "like" or "today",
  longer than 3 letters, not a number) both notes use, found in at most ``TOPIC_MAX_SHARE`` of the
  notes (and never refused below ``TOPIC_MIN_DF`` notes), with the two notes' vectors at cosine >=
  ``TOPIC_FLOOR``; the ``TOPIC_CANDIDATES`` notes sharing the most such words are compared, and
  ``MAX_TOPIC_LINKS`` kept. The vectors are the notes' stored ones (content plus what fast
  enrichment adds, which is the content's own words), so no second embedding is paid.

Continuation links need the conversation's order of writing and are left to the chat's path.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..notes import Note, is_derived
from ..retrieval.entities import mentions
from .linking import (
    MAX_LINKS,
    MAX_PER_ENTITY,
    MAX_SHARE,
    MAX_TOPIC_LINKS,
    TOPIC_CANDIDATES,
    TOPIC_FLOOR,
    TOPIC_MAX_SHARE,
    TOPIC_MIN_DF,
    aliases,
    content_stems,
    entity_reason,
    surface_words,
    topic_reason,
)

if TYPE_CHECKING:
    from ..store import Store


class ImportLinker:
    """Entity and topic-word links for notes arriving one after another (see the module docstring)."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._notes: dict[str, Note] = {}
        self._stems: dict[str, list[str]] = {}  # content stem -> the notes using it
        self._holders: dict[str, list[str]] = {}  # entity key -> the notes mentioning it
        self._strong: set[str] = set()  # names mentioned strongly somewhere
        self._aliases: dict[str, dict[str, str]] = {}  # only the notes that state one
        self._vecs: dict[str, np.ndarray] = {}
        self._read: tuple[str, set[str], dict[str, bool]] | None = None  # the last note read (links, then add)
        for note in store.notes_view().values():
            self.add(note, None)

    def add(self, note: Note, vec: np.ndarray | None) -> None:
        """Index a note once it is linked (it is then a target for the notes after it). A digest or
        profile line is left out, as ``linking`` leaves it out: it repeats its sources' words."""
        if is_derived(note):
            return
        self._notes[note.id] = note
        stems, found = self._words(note)
        for stem in stems:
            self._stems.setdefault(stem, []).append(note.id)
        for key, strong in found.items():
            self._holders.setdefault(key, []).append(note.id)
            if strong:
                self._strong.add(key)
        said = aliases(note.content)
        if said:
            self._aliases[note.id] = said
        if vec is not None:
            self._vecs[note.id] = np.asarray(vec, dtype=np.float32)

    def _words(self, note: Note) -> tuple[set[str], dict[str, bool]]:
        """The note's content stems and name mentions (read once for ``links`` and ``add``)."""
        if self._read is None or self._read[0] != note.id:
            self._read = (note.id, content_stems(note.content), mentions(note.content))
        return self._read[1], self._read[2]

    def links(self, note: Note, vec: np.ndarray) -> list[tuple[str, str]]:
        """(target id, reason) for ``note``: shared names first, then shared topic words."""
        out = self._entity_links(note)
        taken = {t for t, _ in out}
        return out + [x for x in self._topic_links(note, vec) if x[0] not in taken]

    def _open(self, nid: str, me: str) -> bool:
        other = self._notes.get(nid)
        return other is not None and nid != me and not other.superseded_by

    def _entity_links(self, note: Note) -> list[tuple[str, str]]:
        found = self._words(note)[1]
        mine = {k for k, strong in found.items() if strong or k in self._strong}
        if not mine:
            return []
        via = self._expand(note, mine)
        cap = max(MAX_PER_ENTITY, int(MAX_SHARE * len(self._notes)))
        out: list[tuple[str, str]] = []
        for key in sorted(mine | set(via), key=lambda k: (k in via, k)):
            listed = self._holders.get(key, ()) if key in self._strong else ()
            if not listed or len(listed) > cap + 1:
                continue
            holders = [nid for nid in listed if self._open(nid, note.id)]
            if not holders or len(holders) > cap:
                continue
            holders.sort(key=lambda nid: self._notes[nid].timestamp, reverse=True)
            for nid in holders[:MAX_PER_ENTITY]:
                if len(out) < MAX_LINKS and nid not in {t for t, _ in out}:
                    out.append((nid, entity_reason(via[key], key) if key in via else entity_reason(key)))
        return out

    def _expand(self, note: Note, mine: set[str]) -> dict[str, str]:
        """Other names of what this note names, from this note and the notes naming the same (linking._expand)."""
        said = dict(aliases(note.content))
        cap = max(MAX_PER_ENTITY, int(MAX_SHARE * len(self._notes)))
        for key in mine:
            listed = self._holders.get(key, ())
            if len(listed) > cap:
                continue
            for nid in listed:
                other = self._aliases.get(nid)
                if other and self._open(nid, note.id):
                    said.update({k: v for k, v in other.items() if v in mine or k in mine})
        return {other: key for key, other in said.items() if key in mine and other not in mine}

    def _topic_links(self, note: Note, vec: np.ndarray) -> list[tuple[str, str]]:
        limit = max(TOPIC_MIN_DF, int(TOPIC_MAX_SHARE * len(self._notes)))
        specific = {w for w in self._words(note)[0] if 0 < len(self._stems.get(w, ())) <= limit}
        shared: dict[str, list[str]] = {}
        for word in specific:
            for nid in self._stems[word]:
                if self._open(nid, note.id):
                    shared.setdefault(nid, []).append(word)
        if not shared:
            return []
        # the notes sharing the most such words, newest first among equals (ISO times compare as text)
        pool = sorted(shared, key=lambda nid: (len(shared[nid]), self._notes[nid].timestamp),
                      reverse=True)[:TOPIC_CANDIDATES]
        sims = self._vectors(pool) @ np.asarray(vec, dtype=np.float32)
        out: list[tuple[str, str]] = []
        for nid, sim in sorted(zip(pool, sims.tolist()), key=lambda x: -x[1]):
            if sim >= TOPIC_FLOOR and len(out) < MAX_TOPIC_LINKS:
                out.append((nid, topic_reason(surface_words(note.content, sorted(shared[nid])), sim)))
        return out

    def _vectors(self, ids: list[str]) -> np.ndarray:
        missing = [i for i in ids if i not in self._vecs]
        if missing:  # notes stored before this import: their vectors are read once
            for nid, row in zip(missing, np.asarray(self._store.vectors(missing), dtype=np.float32)):
                self._vecs[nid] = row
        return np.vstack([self._vecs[i] for i in ids])

