"""MemoryStore: the facade the rest of Memex uses, composed of parts that each own their state.

  Connection  (connection.py)  Chroma's collections, read-only until the first write; the writers' lock
  LiveNotes   (live.py)        the fold of the log, the derived views, following other writers, snapshots
  Writer      (commit.py)      ``writing()``: a WriteBatch over a read-only fold, committed as one batch
  Reads       (queries.py)     get, filter, nearest, stats, timeline: answers from the live state
  Edits       (edits.py)       update, delete, link, unlink: one write each
  History     (history.py)     events, as of a date, revert
  Forgetter   (forget.py)      forget: delete, then purge the log, proposals, exports and disk
  ProposalInbox (proposals.py) the review inbox

All of them share one re-entrant lock (threads), taken by whichever part a call enters first. This
class only wires them together and forwards; the ``Store`` protocol (protocol.py) is what the rest of
the code depends on.
"""

from __future__ import annotations

import contextlib
import threading
import weakref
from datetime import datetime
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np

from ..config import Settings
from ..models.embeddings import Embedder
from ..notes import Note
from .batch import WriteBatch
from .commit import Writer
from .compaction import recover
from .connection import Connection
from .datadir import FORMAT_VERSION, prepare_data_dir
from .edits import Edits
from .events import Event
from .forget import DeletedNote, ForgetReport, Forgetter
from .history import FieldChange, History
from .lexical import BM25Index
from .live import LiveNotes
from .proposals import ProposalInbox
from .queries import Reads
from .views import Neighbour


class MemoryStore:
    """Thread-safe note store over Chroma: an event log, its fold, and views derived from it."""

    def __init__(self, settings: Settings, embedder: Embedder) -> None:
        self.settings = settings
        self.embedder = embedder
        self.home = Path(settings.home)
        self.server = settings.store_backend == "server"
        version = prepare_data_dir(self.home)
        if not self.server:
            recover(self.home)  # a compaction or migration swap a crash interrupted
        if version < FORMAT_VERSION:
            from .migrations import migrate

            migrate(settings, self.home, version)
        self._lock = threading.RLock()
        self._conn = Connection(settings, self._lock)
        self._live = LiveNotes(settings, embedder, self._conn)
        self.proposals = ProposalInbox(lambda: self._conn.cols.proposals, lambda: self._live.go_live().proposals,
                                       self._lock)
        self._writer = Writer(self._live)
        self._reads = Reads(self._live)
        self._history = History(self._reads, self._writer)
        self._forgetter = Forgetter(self._reads, self._writer, self.proposals)
        self._edits = Edits(self._writer, self._reads, self._forgetter)
        self._live.open()
        _OPEN_STORES.add(self)

    # -- life ---------------------------------------------------------------------------------------
    def refresh(self) -> None:
        """Fold what other writers appended since we last looked (cheap when nothing changed)."""
        self._reads.refresh()

    def reload(self) -> None:
        """Fold the whole log again and rebuild every derived view."""
        self._live.reload()

    def reindex(self) -> dict[str, int]:
        """Rebuild the notes view and every derived index from the change log alone (``memex reindex``)."""
        return self._live.reindex()

    def checkpoint(self) -> None:
        """Write the snapshot now if this process committed since the last one. Why: a reader cannot get
        vectors back from Chroma (``sqlite_reader``) and embeds what changed after the snapshot; a
        writer that goes idle (the chat after a write) saves it, so readers stay fast."""
        self._live.checkpoint()

    def close(self) -> None:
        """Flush recall counts and release the Chroma client (another process can then open it safely).

        A process that wrote leaves a snapshot of what it wrote, so the next open (a reader's above all,
        which cannot use Chroma's vectors) reads one file instead of the log."""
        self._live.close()
        self._conn.close()

    # -- writing ------------------------------------------------------------------------------------
    def writing(self) -> contextlib.AbstractContextManager[WriteBatch]:
        """Collect changes, then commit them as one batch of events: all of it, or none of it
        (commit.py says how; nested in the same thread, it joins the outer batch)."""
        return self._writer.writing()

    def caused_by(self, cause: str) -> list[Event]:
        """Every committed event recorded with ``cause``: was this write already done?"""
        return self._writer.caused_by(cause)

    def update(self, note_id: str, by: str = "person", *, cause: str = "", **fields: Any) -> Note:
        return self._edits.update(note_id, by, cause=cause, **fields)

    def delete(self, note_ids: list[str] | str) -> int:
        return self._edits.delete(note_ids)

    def link(self, source: str, target: str, reason: str = "", by: str = "person", *, cause: str = "") -> bool:
        return self._edits.link(source, target, reason, by, cause=cause)

    def unlink(self, source: str, target: str, by: str = "person") -> bool:
        return self._edits.unlink(source, target, by)

    def forget(self, note_ids: list[str], *, words: list[str] | None = None) -> ForgetReport:
        return self._forgetter.forget(note_ids, words=words)

    def deleted_notes(self, limit: int | None = None) -> list[DeletedNote]:
        return self._forgetter.deleted_notes(limit)

    def touch(self, note_ids: list[str]) -> None:
        """Count a recall of these notes. Never writes the store (recall.py says where counts live)."""
        self._live.touch(note_ids)

    # -- reading ------------------------------------------------------------------------------------
    def get(self, note_id: str) -> Note:
        return self._reads.get(note_id)

    def resolve_id(self, prefix: str) -> str:
        return self._reads.resolve_id(prefix)

    def __len__(self) -> int:
        return self._reads.count()

    def __contains__(self, note_id: object) -> bool:
        return isinstance(note_id, str) and self._reads.contains(note_id)

    def all_notes(self) -> list[Note]:
        return self._reads.all_notes()

    def notes_view(self) -> dict[str, Note]:
        return self._reads.notes_view()

    def graph_snapshot(self) -> nx.DiGraph:
        return self._reads.graph_snapshot()

    def vector(self, note_id: str) -> np.ndarray:
        return self._reads.vector(note_id)

    def vectors(self, ids: list[str]) -> np.ndarray:
        return self._reads.vectors(ids)

    def filter(self, *, tag: str | None = None, source: str | None = None, text: str | None = None,
               since: str | None = None, until: str | None = None,
               needs_enrichment: bool | None = None) -> list[Note]:
        return self._reads.filter(tag=tag, source=source, text=text, since=since, until=until,
                                  needs_enrichment=needs_enrichment)

    def nearest_ids(self, embedding: np.ndarray, k: int, exclude: set[str] | None = None) -> list[tuple[str, float]]:
        return self._reads.nearest_ids(embedding, k, exclude)

    def nearest_many(self, embeddings: np.ndarray, k: int) -> list[list[tuple[str, float]]]:
        return self._reads.nearest_many(embeddings, k)

    def nearest(self, embedding: np.ndarray, k: int, exclude: set[str] | None = None) -> list[Neighbour]:
        return self._reads.nearest(embedding, k, exclude)

    def stats(self) -> dict[str, Any]:
        return self._reads.stats()

    def timeline(self) -> list[tuple[datetime, str, str]]:
        return self._reads.timeline()

    # -- history ------------------------------------------------------------------------------------
    def events(self, note_id: str | None = None, since: str | None = None, until: str | None = None) -> list[Event]:
        return self._history.events(note_id, since, until)

    def changes_between(self, a: str, b: str) -> list[Event]:
        return self._history.changes_between(a, b)

    def as_of(self, when: str) -> dict[str, Note]:
        return self._history.as_of(when)

    def graph_as_of(self, when: str) -> nx.DiGraph:
        return self._history.graph_as_of(when)

    def revert_plan(self, note_id: str, version: int, fields: list[str] | None = None) -> list[FieldChange]:
        return self._history.revert_plan(note_id, version, fields)

    def revert(self, note_id: str, version: int, by: str = "person", fields: list[str] | None = None) -> Note:
        return self._history.revert(note_id, version, by, fields)

    # -- the derived views, read in place -----------------------------------------------------------
    @property
    def graph(self) -> nx.DiGraph:
        """The live link graph (hold ``lock`` while reading it; pages use graph_snapshot())."""
        return self._live.views.graph

    @property
    def lexical(self) -> BM25Index:
        return self._live.views.lexical

    @property
    def lock(self) -> threading.RLock:
        """Hold this to read ``graph`` while a background writer may commit."""
        return self._lock


_OPEN_STORES: weakref.WeakSet[MemoryStore] = weakref.WeakSet()


def close_open_stores() -> None:
    """Close every store this process opened (the end of a process: counts and snapshot flushed)."""
    for store in list(_OPEN_STORES):
        with contextlib.suppress(Exception):
            store.close()


def open_store(settings: Settings, embedder: Embedder | None = None) -> MemoryStore:
    """The usual way in: the store for these settings with the configured embedder."""
    if embedder is None:
        from ..models.embeddings import LazyEmbedder

        return MemoryStore(settings, LazyEmbedder(settings))
    return MemoryStore(settings, embedder)

