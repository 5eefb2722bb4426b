"""MemoryStore: the facade over the change log, the fold, the notes view and the derived views.

Open: fold the log (whole batches only) into notes, take each note's vector from the notes view
(re-embedding and repairing the view where it lags the log: a crash between the append and the
view update), then build the graph and lexical index. Write: ``writing()`` collects notes, the
commit diffs them against the fold, appends one batch of events (the commit point), folds those
events into the live notes and updates the view. Read: follow other writers first (following.py),
then answer from memory; a read never writes anything.
"""

from __future__ import annotations

import contextlib
import fcntl
import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np

from ..errors import MemexError, NotFoundError, StoreError
from ..lexical import BM25Index
from ..notes import Note
from . import backend, snapshot
from .batch import WriteBatch
from .codec import note_copy, text_hash
from .compaction import recover
from .datadir import FORMAT_VERSION, prepare_data_dir
from .edits import EditMixin
from .events import CREATE, DELETE, Event, EventClock, EventLog, event_ms, redacted, whole_batches
from .fold import Fold, diff
from .following import Follower
from .forget import ForgetMixin
from .history import HistoryMixin
from .proposals import ProposalInbox
from .queries import QueryMixin
from .recall import RecallStats
from .views import DerivedViews
from .viewstore import ViewMixin


class MemoryStore(QueryMixin, HistoryMixin, EditMixin, ForgetMixin, ViewMixin):
    """Thread-safe note store over Chroma: an event log, its fold, and views derived from it."""

    def __init__(self, settings: Any, embedder: Any, *, collection: str | None = None) -> None:
        self.settings = settings
        self.embedder = embedder
        self.home = Path(settings.home)
        self.server = settings.store_backend == "server"
        version = prepare_data_dir(self.home)
        self._lock = threading.RLock()
        self._batch: WriteBatch | None = None
        self._lockfile_path = self.home / "memex.lock"
        self._cols: backend.Collections | None = None
        if not self.server:
            recover(self.home)  # a compaction or migration swap a crash interrupted
        if version < FORMAT_VERSION:
            from .migrations import migrate

            migrate(settings, self.home, version)
        self._clock = EventClock()
        self._recall = RecallStats(self.home)
        self._unsaved = 0  # events committed since the last snapshot (snapshot.py)
        self._open()

    # -- opening ----------------------------------------------------------------------------
    def _chroma_path(self) -> Path:
        return self.home / "chroma"

    def _open(self) -> None:
        with self._lock:
            self._cols = backend.open_collections(self.settings, self._chroma_path())
            self._log = EventLog(self._cols.events, self._cols.max_batch)
            self.proposals = ProposalInbox(self._cols.proposals, self._lock)
            self._follower = Follower(self.home, self.server)
            if not self.server and self._follower.written_elsewhere():
                self._reopen_chroma()  # this process may hold a Chroma cache from before that write
            try:
                self._load()
            except Exception:  # noqa: BLE001
                if self.server:
                    raise
                self._reopen_chroma()  # a stale in-process cache is the usual cause; a fresh read settles it
                self._load()

    def _reopen_chroma(self) -> None:
        backend.release(self.settings, self._cols.client if self._cols else None)
        self._cols = backend.open_collections(self.settings, self._chroma_path())
        self._log = EventLog(self._cols.events, self._cols.max_batch)
        self.proposals = ProposalInbox(self._cols.proposals, self._lock)

    def _read_log(self) -> list[Event]:
        try:
            return self._log.read()
        except MemexError:
            raise
        except Exception as exc:  # noqa: BLE001
            if self.server:
                raise backend.server_problem(self.settings, exc) from exc
            raise StoreError(f"Reading the change log in {self.home} failed: {type(exc).__name__}: {exc}") from exc

    def _load(self, use_snapshot: bool = True) -> None:
        """Build the live state: from the snapshot plus the log after it, else by folding the whole log."""
        snap = snapshot.load(self.home, self._follower.epoch) if use_snapshot else None
        if snap is not None:
            self._fold, self._follower.high_water, self._follower.seen, vectors = snap
            self._clock.observe(max(self._fold.last.values(), default=""))
            for note in self._fold.notes.values():
                self._recall.overlay(note)
            self._views = DerivedViews()
            self._views.rebuild(self._fold.notes, vectors)
            events = self._follower.new_events(self._log)
            if events:
                self._fold_in(events, None)
            return
        events, _partial = whole_batches(self._read_log())
        fold = Fold()
        try:
            for ev in events:
                fold.apply(ev)
        except MemexError as exc:
            raise StoreError(f"The store in {self.home} holds a change Memex cannot read: {exc}") from exc
        self._fold = fold
        self._follower.saw(events)
        for ev in events[-1:]:
            self._clock.observe(ev.id)
        for note in fold.notes.values():
            self._recall.overlay(note)
        vectors = self._view_vectors(fold.notes, fold.last)
        self._views = DerivedViews()
        self._views.rebuild(fold.notes, vectors)
        if not self.server:
            self._redact_leftovers(events)
        if len(events) >= snapshot.SAVE_EVERY:
            self._save_snapshot()

    def _save_snapshot(self) -> None:
        with contextlib.suppress(OSError):  # a cache: failing to write it costs only speed
            snapshot.save(self.home, self._fold, self._follower.high_water, self._follower.seen,
                          self._views.vectors, self._follower.epoch)
        self._unsaved = 0

    def _redact_leftovers(self, events: list[Event]) -> None:
        """A crash between a tombstone and the redaction of the note's events: finish the redaction."""
        dead = {e.note_id for e in events if e.field == DELETE}
        left = [e for e in events if e.note_id in dead and not e.redacted and e.field != DELETE
                and e.note_id not in self._fold.notes]
        if left:
            self._log.rewrite([redacted(e) for e in left])

    def close(self) -> None:
        """Flush recall counts and release the Chroma client (another process can then open it safely)."""
        self._recall.flush()
        if self._unsaved:
            self._save_snapshot()
        with contextlib.suppress(Exception):
            self._cols.client.close()

    # -- following other writers ----------------------------------------------------------------
    def refresh(self) -> None:
        """Fold what other writers appended since we last looked (cheap when nothing changed)."""
        with self._lock:
            self._follow()

    def reload(self) -> None:
        """Fold the whole log again and rebuild every derived view."""
        with self._lock:
            self._reopen_chroma()
            self._follower = Follower(self.home, self.server)
            self._load()

    def _follow(self, force: bool = False) -> None:
        if self._follower.read_epoch() != self._follower.epoch:
            self.reload()  # the Chroma folder was replaced (compaction) by another process
            return
        if not (force or self._follower.due()):
            return
        if not self.server and self._follower.written_elsewhere():
            self._reopen_chroma()  # our in-process Chroma cache predates that write
        try:
            events = self._follower.new_events(self._log)
        except Exception as exc:  # noqa: BLE001
            if force:
                raise (exc if isinstance(exc, MemexError) else backend.server_problem(self.settings, exc)
                       if self.server else StoreError(f"Reading the change log failed: {exc}")) from exc
            return  # a read keeps answering from what it has; the next poll tries again
        if events:
            self._fold_in(events, None)

    def _fold_in(self, events: list[Event], vectors: dict[str, np.ndarray] | None) -> None:
        """Fold events into the live notes and views; ``vectors`` None means "another writer's"."""
        changed: dict[str, None] = {}
        late: set[str] = set()
        for ev in events:
            self._clock.observe(ev.id)
            if not self._fold.apply(ev):
                late.add(ev.note_id)
            changed[ev.note_id] = None
        for nid in late:
            self._fold.refold(nid, self._log.for_note(nid))
        self._follower.saw(events)
        notes = self._fold.notes
        for nid in changed:
            if nid in notes:
                self._recall.overlay(notes[nid])
        if vectors is None:
            vectors = self._vectors_of_others([n for n in changed if n in notes])
        self._views.update(notes, changed, vectors)

    def _vectors_of_others(self, ids: list[str]) -> dict[str, np.ndarray]:
        """Vectors of notes another writer changed: from the view when its text hash matches the
        note (the writer updates the view right after its append), else embedded here."""
        notes = self._fold.notes
        vectors: dict[str, np.ndarray] = {}
        if ids:
            got = self._cols.view.get(ids=ids, include=["embeddings", "metadatas"])
            for i, nid in enumerate(got["ids"]):
                if (got["metadatas"][i] or {}).get("text_hash") == text_hash(notes[nid]):
                    vectors[nid] = np.asarray(got["embeddings"][i], dtype=np.float32)
        missing = [n for n in ids if n not in vectors]
        if missing:
            fresh = self.embedder.embed([notes[n].text_for_embedding() for n in missing])
            vectors.update({n: np.asarray(v, dtype=np.float32) for n, v in zip(missing, fresh)})
        return vectors

    @contextlib.contextmanager
    def _process_lock(self) -> Iterator[None]:
        if self.server:  # machines share no lock; appends cannot conflict anyway (see README)
            yield
            return
        with open(self._lockfile_path, "a+") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    # -- writing ----------------------------------------------------------------------------------
    @contextlib.contextmanager
    def writing(self) -> Iterator[WriteBatch]:
        """Collect changes, then commit them as one batch of events: all of it, or none of it.

        Serialised within the process (threads) and across processes on this machine (a lock
        file); the log is followed first, so the batch diffs against every change made so far.
        A ``writing()`` nested in the same thread joins the outer batch. If the block raises,
        nothing is written.
        """
        with self._lock:
            if self._batch is not None:  # nested in this thread (the lock is re-entrant): join it
                yield self._batch
                return
            with self._process_lock():
                self._follow(force=True)
                batch = WriteBatch(self)
                self._batch = batch
                try:
                    yield batch
                finally:
                    self._batch = None
                self._commit(batch)

    def _commit(self, batch: WriteBatch) -> None:
        notes = self._fold.notes
        events: list[Event] = []
        for nid in batch.order:
            if nid in batch.deletes:
                if nid in notes:
                    events.append(Event(self._clock.next(), nid, DELETE, None, None, "system",
                                        _now(), cause=batch.causes.get(nid, "")))
                continue
            events += diff(notes.get(nid), batch.puts[nid], ids=self._clock, by="system",
                           cause=batch.causes.get(nid, ""), replace=nid in batch.replaced)
        if not events:
            return
        vectors = self._vectors_for(batch, {e.note_id for e in events if e.field != DELETE})
        bid, n = events[0].id, len(events)
        events = [replace(e, batch=bid, size=n, t=event_ms(bid)) for e in events]
        try:
            self._log.append(events)  # the commit point
        except Exception as exc:  # noqa: BLE001
            if self.server:
                raise backend.server_problem(self.settings, exc) from exc
            raise StoreError(f"Writing to the store failed: {type(exc).__name__}: {exc}. Nothing was saved.") from exc
        for ev in events:  # an imported note brings its recall counts along (they are not logged)
            if ev.field == CREATE and (batch.puts[ev.note_id].retrieval_count or batch.puts[ev.note_id].last_accessed):
                self._recall.set(batch.puts[ev.note_id])
        self._fold_in(events, vectors)
        changed = list(dict.fromkeys(e.note_id for e in events))
        alive = [n for n in changed if n in self._fold.notes]
        gone = [n for n in changed if n not in self._fold.notes]
        with contextlib.suppress(Exception):  # the view is derived: a lag is repaired on the next open
            self._write_view(self._fold.notes, alive, gone, dict(self._views.vectors), embed_missing=False)
        if gone:
            self._redact(gone)
        self._follower.mark_written()
        self._recall.flush()
        self._unsaved += len(events)
        if self._unsaved >= snapshot.SAVE_EVERY:
            self._save_snapshot()

    def _vectors_for(self, batch: WriteBatch, ids: set[str]) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {}
        need: list[str] = []
        for nid in ids:
            note = batch.puts[nid]
            current = self._fold.notes.get(nid)
            if nid in batch.embeddings:
                out[nid] = batch.embeddings[nid]
            elif current is not None and nid in self._views.vectors \
                    and current.text_for_embedding() == note.text_for_embedding():
                out[nid] = self._views.vectors[nid]
            else:
                need.append(nid)
        if need:
            fresh = self.embedder.embed([batch.puts[n].text_for_embedding() for n in need])
            out.update({n: np.asarray(v, dtype=np.float32) for n, v in zip(need, fresh)})
        return out

    def _unredacted(self, note_id: str) -> list[Event]:
        """A note's events that still hold its text (its tombstone holds none)."""
        return [e for e in self._log.for_note(note_id) if not e.redacted and e.field != DELETE]

    def _redact(self, note_ids: list[str]) -> None:
        """Remove the text of deleted notes from their events (the tombstone stays)."""
        for nid in note_ids:
            evs = self._unredacted(nid)
            if evs:
                self._log.rewrite([redacted(e) for e in evs])

    def touch(self, note_ids: list[str]) -> None:
        """Count a recall of these notes. Never writes the store (recall.py says where counts live)."""
        with self._lock:
            self._recall.touch([self._fold.notes[n] for n in dict.fromkeys(note_ids) if n in self._fold.notes])

    # -- the few attributes other modules read ----------------------------------------------------
    @property
    def graph(self) -> nx.DiGraph:
        return self._views.graph

    @property
    def lexical(self) -> BM25Index:
        return self._views.lexical

    @property
    def lock(self) -> threading.RLock:
        """Hold this to read ``graph`` while a background writer may commit (pages use graph_snapshot())."""
        return self._lock

    @property
    def _col(self) -> Any:
        return self._cols.view

    @property
    def _notes(self) -> dict[str, Note]:
        return self._fold.notes

    def _get_cached(self, note_id: str) -> Note:
        note = self._fold.notes.get(note_id)
        if note is None:
            raise NotFoundError(f"No note with id {note_id!r}.")
        return note

    def copy_note(self, note_id: str) -> Note:
        return note_copy(self._get_cached(note_id))


def _now() -> str:
    from ..notes import now_iso

    return now_iso()


def open_store(settings: Any, embedder: Any | None = None) -> MemoryStore:
    """The usual way in: the store for these settings with the configured embedder."""
    if embedder is None:
        from ..embeddings import LazyEmbedder

        embedder = LazyEmbedder(settings)
    return MemoryStore(settings, embedder)
