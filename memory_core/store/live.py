"""The live state of one open store: the fold of the log, the views derived from it, and how it follows.

Open: fold the log (whole batches only) into notes, or start from the snapshot and fold what came
after it; take each note's vector from the notes view (re-embedding, and repairing the view where
it lags the log: a crash between the append and the view update), then build the graph and the
lexical index. Follow: fold what other writers appended (following.py) before a read answers.
Everything that changes the fold goes through ``fold_in``, so the views never disagree with it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from types import MappingProxyType

import numpy as np

from ..config import Settings
from ..errors import MemexError, NotFoundError, StoreError
from ..models.embeddings import Embedder
from ..notes import Note
from . import backend, snapshot
from .codec import text_hash
from .connection import Connection
from .events import DELETE, Event, EventClock, redacted, whole_batches
from .fold import Fold, fold
from .following import Follower
from .recall import RecallStats
from .views import DerivedViews
from .viewstore import embed_into, read_view, recreate_view, write_view


class LiveNotes:
    """The folded notes, their views, the follower and the recall counts of one store."""

    def __init__(self, settings: Settings, embedder: Embedder, conn: Connection) -> None:
        self.settings = settings
        self.embedder = embedder
        self.conn = conn
        self.lock = conn.lock
        self.home = conn.home
        self.server = conn.server
        self.clock = EventClock()
        self.recall = RecallStats(self.home)
        self.fold = Fold()
        self.views = DerivedViews()
        self.follower = Follower(self.home, self.server)
        self.unsaved = 0  # events committed since the last snapshot (snapshot.py)
        self._repairs: tuple[list[str], list[str]] = ([], [])  # view records a reader found stale/gone
        self._redactions: list[Event] = []  # deleted notes' events a crash left holding text

    # -- reading it ---------------------------------------------------------------------------------
    @property
    def notes(self) -> dict[str, Note]:
        """The live notes by id (shared objects: a commit replaces them, never changes one in place)."""
        return self.fold.notes

    def read_only(self) -> Mapping[str, Note]:
        """The notes as a read-only mapping: what a write batch diffs against."""
        return MappingProxyType(self.fold.notes)

    def note(self, note_id: str) -> Note:
        """The live note itself (not a copy), or NotFoundError."""
        found = self.fold.notes.get(note_id)
        if found is None:
            raise NotFoundError(f"No note with id {note_id!r}.")
        return found

    def touch(self, note_ids: list[str]) -> None:
        """Count a recall of these notes (in memory and ``recall.json``; never in the store)."""
        with self.lock:
            notes = self.fold.notes
            self.recall.touch([notes[n] for n in dict.fromkeys(note_ids) if n in notes])

    # -- opening ------------------------------------------------------------------------------------
    def open(self) -> None:
        with self.lock:
            self._repairs, self._redactions = ([], []), []
            self.follower = Follower(self.home, self.server)
            self.conn.open()
            if self.conn.writable and self.follower.written_elsewhere():
                self.conn.reopen()  # this process may hold a Chroma cache from before that write
            self.load()

    def go_live(self) -> backend.Collections:
        """Chroma opened for writing; the first time, fix what a read-only open had to leave."""
        with self.lock:
            if self.conn.go_live():
                self._settle_repairs()
            return self.conn.cols

    def load(self, use_snapshot: bool = True) -> None:
        """Build the live state: from the snapshot plus the log after it, else by folding the whole log."""
        snap = snapshot.load(self.home, self.follower.epoch) if use_snapshot else None
        if snap is not None:
            self.fold, self.follower.high_water, self.follower.seen, vectors = snap
            self.clock.observe(max(self.fold.last.values(), default=""))
            self._rebuild(vectors)
            events = self.follower.new_events(self.conn.log)
            if events:
                self.fold_in(events, None)
            return
        events, _partial = whole_batches(self.conn.read_log())
        try:
            self.fold = fold(events)
        except MemexError as exc:
            raise StoreError(f"The store in {self.home} holds a change Memex cannot read: {exc}") from exc
        self.follower.saw(events)
        for ev in events[-1:]:
            self.clock.observe(ev.id)
        self._rebuild(self._view_vectors())
        if not self.server:
            self._redactions = _leftovers(events, self.fold.notes)
            if self.conn.writable:
                self._settle_repairs()
        if len(events) >= snapshot.SAVE_EVERY and self.conn.writable:
            self.save_snapshot()

    def _rebuild(self, vectors: dict[str, np.ndarray]) -> None:
        for note in self.fold.notes.values():
            self.recall.overlay(note)
        self.views = DerivedViews()
        self.views.rebuild(self.fold.notes, vectors)

    def _view_vectors(self) -> dict[str, np.ndarray]:
        """Vectors from the notes view; notes whose view record lags the log are embedded and repaired
        (a reader only embeds: its first write repairs, ``_settle_repairs``)."""
        notes = self.fold.notes
        try:
            found = read_view(self.conn.cols, notes, self.fold.last)
        except Exception as exc:  # noqa: BLE001
            raise self.conn.problem("Reading the notes view", exc) from exc
        if (found.stale or found.gone) and self.conn.writable:
            self.write_view(found.stale, found.gone, found.vectors, embed_missing=True)
            return found.vectors
        self._repairs = (found.stale, found.gone)
        embed_into(self.embedder, notes, list(notes), found.vectors)  # what a reader cannot read back
        return found.vectors

    def _settle_repairs(self) -> None:
        """What a read-only open found but could not fix: view records that lag the log, and the text
        of deleted notes a crash left unredacted. Fixed now that this process writes anyway."""
        stale, gone = self._repairs
        self._repairs = ([], [])
        stale = [n for n in stale if n in self.fold.notes]
        if stale or gone:
            with contextlib.suppress(Exception):  # derived: the next writer tries again
                self.write_view(stale, gone, dict(self.views.vectors), embed_missing=True)
        left, self._redactions = self._redactions, []
        if left:
            self.conn.log.rewrite([redacted(e) for e in left])

    def write_view(self, ids: list[str], gone: list[str], vectors: dict[str, np.ndarray] | None = None,
                   *, embed_missing: bool) -> None:
        """Bring the view records of ``ids`` (and ``gone``) in line with the live notes."""
        vectors = dict(self.views.vectors) if vectors is None else vectors
        if embed_missing:
            embed_into(self.embedder, self.fold.notes, ids, vectors)
        write_view(self.conn.cols, self.fold.notes, self.fold.last, ids, gone, vectors)

    # -- following other writers ----------------------------------------------------------------------
    def reload(self) -> None:
        """Fold the whole log again and rebuild every derived view."""
        with self.lock:
            self.conn.reopen()
            self.follower = Follower(self.home, self.server)
            self.load()

    def follow(self, force: bool = False) -> None:
        """Fold what other writers appended since we last looked (cheap when nothing changed).
        ``force``: look now, and raise when the log cannot be read (a write must not diff against less)."""
        if self.follower.read_epoch() != self.follower.epoch:
            self.reload()  # the Chroma folder was replaced (compaction) by another process
            return
        if not (force or self.follower.due()):
            return
        if not self.server and self.follower.written_elsewhere():
            self.conn.reopen()  # our in-process Chroma cache predates that write
        try:
            events = self.follower.new_events(self.conn.log)
        except Exception as exc:  # noqa: BLE001
            if force:
                raise (exc if isinstance(exc, MemexError) else backend.server_problem(self.settings, exc)
                       if self.server else StoreError(f"Reading the change log failed: {exc}")) from exc
            return  # a read keeps answering from what it has; the next poll tries again
        if events:
            self.fold_in(events, None)

    def fold_in(self, events: list[Event], vectors: dict[str, np.ndarray] | None) -> None:
        """Fold events into the live notes and views; ``vectors`` None means "another writer's"."""
        changed: dict[str, None] = {}
        late: set[str] = set()
        for ev in events:
            self.clock.observe(ev.id)
            if not self.fold.apply(ev):
                late.add(ev.note_id)
            changed[ev.note_id] = None
        for nid in late:
            self.fold.refold(nid, self.conn.log.for_note(nid))
        self.follower.saw(events)
        notes = self.fold.notes
        for nid in changed:
            if nid in notes:
                self.recall.overlay(notes[nid])
        if vectors is None:
            vectors = self._vectors_of_others([n for n in changed if n in notes])
        self.views.update(notes, changed, vectors)

    def refold(self, note_ids: set[str]) -> None:
        """Fold these notes again from their (rewritten) events, views and view records included."""
        for nid in note_ids:
            self.fold.refold(nid, self.conn.log.for_note(nid))
            if nid in self.fold.notes:
                self.recall.overlay(self.fold.notes[nid])
        self.write_view([n for n in note_ids if n in self.fold.notes], [], embed_missing=True)
        self.views.update(self.fold.notes, note_ids, {})

    def _vectors_of_others(self, ids: list[str]) -> dict[str, np.ndarray]:
        """Vectors of notes another writer changed: from the view when its text hash matches the
        note (the writer updates the view right after its append), else embedded here."""
        notes = self.fold.notes
        vectors: dict[str, np.ndarray] = {}
        if ids:
            got = self.conn.cols.view.get(ids=ids, include=["embeddings", "metadatas"])
            for i, nid in enumerate(got["ids"]):
                vector = got["embeddings"][i]  # None from a reader where Chroma no longer logs it
                if (got["metadatas"][i] or {}).get("text_hash") == text_hash(notes[nid]) and vector is not None:
                    vectors[nid] = np.asarray(vector, dtype=np.float32)
        embed_into(self.embedder, notes, ids, vectors)
        return vectors

    # -- after a write ----------------------------------------------------------------------------------
    def committed(self, count: int) -> None:
        """Tell other processes, flush the recall counts, and snapshot every SAVE_EVERY events."""
        self.follower.mark_written()
        self.recall.flush()
        self.unsaved += count
        if self.unsaved >= snapshot.SAVE_EVERY:
            self.save_snapshot()

    def save_snapshot(self) -> None:
        with contextlib.suppress(OSError):  # a cache: failing to write it costs only speed
            snapshot.save(self.home, self.fold, self.follower.high_water, self.follower.seen,
                          self.views.vectors, self.follower.epoch)
        self.unsaved = 0

    def checkpoint(self) -> None:
        """Write the snapshot now if this process committed since the last one."""
        with self.lock:
            if self.conn.writable and self.unsaved:
                self.save_snapshot()

    def close(self) -> None:
        """Flush recall counts; a process that wrote leaves a snapshot of what it wrote."""
        self.recall.flush()
        if self.conn.writable and (self.unsaved or not snapshot.exists(self.home)):
            self.save_snapshot()

    def reindex(self) -> dict[str, int]:
        """Rebuild the notes view and every derived index from the change log alone.

        Vectors whose text is unchanged are kept (the text hash says so); the rest are embedded."""
        self.go_live()
        with self.lock, self.conn.process_lock():
            self.follow(force=True)
            events = whole_batches(self.conn.read_log())[0]
            self.fold = fold(events)
            vectors = read_view(self.conn.cols, self.fold.notes, {}).vectors
            reused = len(vectors)
            recreate_view(self.conn.cols)
            self.write_view(list(self.fold.notes), [], vectors, embed_missing=True)
            self.follower.mark_written()
            snapshot.delete(self.home)
            self.load(use_snapshot=False)
            self.save_snapshot()
        return {"notes": len(self.fold.notes), "events": len(events), "vectors_reused": reused,
                "embedded": len(self.fold.notes) - reused}


def _leftovers(events: list[Event], alive: dict[str, Note]) -> list[Event]:
    """Events of deleted notes that still hold text: a crash between a tombstone and the redaction."""
    dead = {e.note_id for e in events if e.field == DELETE}
    return [e for e in events if e.note_id in dead and not e.redacted and e.field != DELETE
            and e.note_id not in alive]
