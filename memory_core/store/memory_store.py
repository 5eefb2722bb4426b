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
import weakref
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np

from ..errors import MemexError, NotFoundError, StoreError
from ..notes import Note
from . import backend, snapshot
from .batch import WriteBatch
from .codec import text_hash
from .compaction import recover
from .datadir import FORMAT_VERSION, prepare_data_dir
from .edits import EditMixin
from .events import CREATE, DELETE, Event, EventClock, EventLog, event_ms, redacted, whole_batches
from .fold import Fold, diff
from .following import Follower
from .forget import ForgetMixin
from .history import HistoryMixin
from .lexical import BM25Index
from .proposals import ProposalInbox
from .queries import QueryMixin
from .recall import RecallStats
from .sqlite_reader import NeedsRecovery, read_only_collections
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
        _OPEN_STORES.add(self)

    # -- opening ----------------------------------------------------------------------------
    def _chroma_path(self) -> Path:
        return self.home / "chroma"

    def _open(self) -> None:
        with self._lock:
            self._writable = False  # local: Chroma itself is opened by the first write (``_go_live``)
            self._repairs: tuple[list[str], list[str]] = ([], [])  # view records a reader found stale/gone
            self._redactions: list[Event] = []  # deleted notes' events a crash left holding text
            self._follower = Follower(self.home, self.server)
            reader = None
            if not self.server:  # a server is always read through Chroma (nothing of it is on this disk)
                with contextlib.suppress(NeedsRecovery):  # a killed writer's half-done transaction:
                    reader = read_only_collections(self._chroma_path())  # only Chroma can roll it back
            if reader is None:
                self._use(backend.open_collections(self.settings, self._chroma_path()))
                self._writable = True
                if self._follower.written_elsewhere():
                    self._reopen_chroma()  # this process may hold a Chroma cache from before that write
            else:
                self._use(reader)
            self._load()

    def _use(self, cols: backend.Collections) -> None:
        self._cols = cols
        self._log = EventLog(cols.events, cols.max_batch)
        if getattr(self, "proposals", None) is None:
            self.proposals = ProposalInbox(cols.proposals, self._lock, self._live_proposals)
        else:  # the same inbox object: callers may hold it
            self.proposals.col = cols.proposals

    def _live_proposals(self) -> Any:
        return self._go_live().proposals

    def _go_live(self) -> backend.Collections:
        """Open Chroma for writing (once): a local store reads its SQLite file until it first writes,
        because opening Chroma writes to the folder and a process that only reads must not."""
        with self._lock:
            if not self._writable:
                reader = self._cols.client if self._cols else None
                self._use(backend.open_collections(self.settings, self._chroma_path()))
                self._writable = True
                if reader is not None:
                    reader.close()
                self._settle_repairs()
            assert self._cols is not None
            return self._cols

    def _settle_repairs(self) -> None:
        """What a read-only open found but could not fix: view records that lag the log, and the text
        of deleted notes a crash left unredacted. Fixed now that this process writes anyway."""
        stale, gone = self._repairs
        self._repairs = ([], [])
        notes = self._fold.notes
        stale = [n for n in stale if n in notes]
        if stale or gone:
            with contextlib.suppress(Exception):  # derived: the next writer tries again
                self._write_view(notes, stale, gone, dict(self._views.vectors), embed_missing=True)
        left, self._redactions = self._redactions, []
        if left:
            self._log.rewrite([redacted(e) for e in left])

    def _reopen_chroma(self) -> None:
        """Drop this process's Chroma cache after another process wrote (a reader reads the file afresh)."""
        if not self._writable or self.server:
            return
        backend.release(self.settings, self._cols.client if self._cols else None)
        self._use(backend.open_collections(self.settings, self._chroma_path()))

    def _read_log(self, where: dict[str, Any] | None = None) -> list[Event]:
        try:
            return self._log.read(where)
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
            self._redactions = self._leftovers(events, fold.notes)
            if self._writable:
                self._settle_repairs()
        if len(events) >= snapshot.SAVE_EVERY and self._writable:
            self._save_snapshot()

    def _save_snapshot(self) -> None:
        with contextlib.suppress(OSError):  # a cache: failing to write it costs only speed
            snapshot.save(self.home, self._fold, self._follower.high_water, self._follower.seen,
                          self._views.vectors, self._follower.epoch)
        self._unsaved = 0

    @staticmethod
    def _leftovers(events: list[Event], alive: dict[str, Note]) -> list[Event]:
        """Events of deleted notes that still hold text: a crash between a tombstone and the redaction."""
        dead = {e.note_id for e in events if e.field == DELETE}
        return [e for e in events if e.note_id in dead and not e.redacted and e.field != DELETE
                and e.note_id not in alive]

    def checkpoint(self) -> None:
        """Write the snapshot now if this process committed since the last one. Why: a reader cannot get
        vectors back from Chroma (``sqlite_reader``) and embeds what changed after the snapshot; a
        writer that goes idle (the chat after a write) saves it, so readers stay fast."""
        with self._lock:
            if self._writable and self._unsaved:
                self._save_snapshot()

    def close(self) -> None:
        """Flush recall counts and release the Chroma client (another process can then open it safely).

        A process that wrote leaves a snapshot of what it wrote, so the next open (a reader's above all,
        which cannot use Chroma's vectors) reads one file instead of the log."""
        self._recall.flush()
        if self._writable and (self._unsaved or not snapshot.exists(self.home)):
            self._save_snapshot()
        with contextlib.suppress(Exception):
            if self._cols is not None and self._cols.client is not None:
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
                vector = got["embeddings"][i]  # None from a reader where Chroma no longer logs it
                if (got["metadatas"][i] or {}).get("text_hash") == text_hash(notes[nid]) and vector is not None:
                    vectors[nid] = np.asarray(vector, dtype=np.float32)
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
            self._go_live()
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

    def caused_by(self, cause: str) -> list[Event]:
        """Every committed event recorded with ``cause`` (a write's key): how a process that resumes a
        write, or a decision, knows an earlier process (killed before it could say so) already did it."""
        if not cause:
            return []
        with self._lock:
            self._follow(force=True)
            return [e for e in self._read_log({"cause": cause}) if e.id in self._follower.seen]

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


def _now() -> str:
    from ..notes import now_iso

    return now_iso()


_OPEN_STORES: weakref.WeakSet[MemoryStore] = weakref.WeakSet()


def close_open_stores() -> None:
    """Close every store this process opened (the end of a process: counts and snapshot flushed)."""
    for store in list(_OPEN_STORES):
        with contextlib.suppress(Exception):
            store.close()


def open_store(settings: Any, embedder: Any | None = None) -> MemoryStore:
    """The usual way in: the store for these settings with the configured embedder."""
    if embedder is None:
        from ..models.embeddings import LazyEmbedder

        embedder = LazyEmbedder(settings)
    return MemoryStore(settings, embedder)
