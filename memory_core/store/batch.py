"""WriteBatch: the changes collected inside ``MemoryStore.writing()``, committed as one batch of events.

A put hands over a whole note; the commit diffs it against the current fold and appends one
event per changed field (so callers keep working with plain Note objects and ``set_field``).
The batch reads the fold only through what it is given, a read-only mapping of the notes and
the link graph: it cannot change the live state, and it needs nothing else of the store.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import networkx as nx
import numpy as np

from ..errors import NotFoundError
from ..notes import Note
from .codec import note_copy


@dataclass
class WriteBatch:
    notes: Mapping[str, Note]  # the fold this batch is diffed against (read-only)
    graph: nx.DiGraph  # its links, to find the notes that point at a deleted one
    puts: dict[str, Note] = field(default_factory=dict)
    deletes: list[str] = field(default_factory=list)
    embeddings: dict[str, np.ndarray] = field(default_factory=dict)
    causes: dict[str, str] = field(default_factory=dict)
    replaced: set[str] = field(default_factory=set)
    order: dict[str, None] = field(default_factory=dict)  # note ids in the order they were put/deleted

    def _current(self, note_id: str) -> Note:
        note = self.notes.get(note_id)
        if note is None:
            raise NotFoundError(f"No note with id {note_id!r}.")
        return note

    def get(self, note_id: str) -> Note:
        """A private copy of the current note (including changes already put in this batch)."""
        if note_id in self.puts:
            return self.puts[note_id]
        if note_id in self.deletes:
            raise NotFoundError(f"No note with id {note_id!r} (deleted in this write).")
        return note_copy(self._current(note_id))

    def exists(self, note_id: str) -> bool:
        return note_id in self.puts or (note_id in self.notes and note_id not in self.deletes)

    def put(self, note: Note, embedding: np.ndarray | None = None, *, cause: str = "",
            replace: bool = False) -> None:
        """Write ``note`` (new or changed). ``cause`` is recorded on its events (e.g. "proposal:<id>");
        ``replace`` records it afresh (an import that overwrites a note), history included."""
        self.puts[note.id] = note
        if note.id in self.deletes:
            self.deletes.remove(note.id)
            replace = True
        if cause:
            self.causes[note.id] = cause
        if replace:
            self.replaced.add(note.id)
        if embedding is not None:
            self.embeddings[note.id] = np.asarray(embedding, dtype=np.float32)
        self._mark(note.id)

    def delete(self, note_id: str) -> None:
        """Delete a note and remove every link to it from the notes that point at it."""
        self._current(note_id)
        graph = self.graph
        for source in list(graph.predecessors(note_id)) if note_id in graph else []:
            if source in self.deletes:
                continue
            other = self.get(source)
            if other.remove_link(note_id, by="system"):
                self.put(other)
        for other in list(self.puts.values()):
            if other.id != note_id and other.remove_link(note_id, by="system"):
                self.put(other)
        self.puts.pop(note_id, None)
        self.replaced.discard(note_id)
        if note_id not in self.deletes:
            self.deletes.append(note_id)
        self._mark(note_id)

    def _mark(self, note_id: str) -> None:
        self.order.pop(note_id, None)
        self.order[note_id] = None
