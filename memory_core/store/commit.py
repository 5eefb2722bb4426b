"""Writing: ``writing()`` collects a WriteBatch, the commit turns it into one batch of events.

The commit diffs each put note against the live fold, appends the events (the commit point: the
whole batch or none of it), folds them into the live notes and then updates what is derived (the
notes view, redactions of deleted notes). ``caused_by`` answers "was this write already done?"
for a write resumed after a crash, from the causes recorded on its events.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import replace

import numpy as np

from .. import notes as note_record  # looked up per call: tests set the clock there
from ..errors import MemexError, StoreError
from . import backend
from .batch import WriteBatch
from .events import CREATE, DELETE, Event, event_ms, redacted
from .fold import diff
from .live import LiveNotes
from .repairs import repair_contexts


class Writer:
    """Commits batches for one store; ``batch`` is the one being collected (None between writes)."""

    def __init__(self, live: LiveNotes) -> None:
        self.live = live
        self.conn = live.conn
        self.batch: WriteBatch | None = None
        self._repaired = False  # notes under an older rule repaired before this process's first write

    @contextlib.contextmanager
    def writing(self) -> Iterator[WriteBatch]:
        """Collect changes, then commit them as one batch of events: all of it, or none of it.

        Serialised within the process (threads) and across processes on this machine (a lock
        file); the log is followed first, so the batch diffs against every change made so far.
        A ``writing()`` nested in the same thread joins the outer batch. If the block raises,
        nothing is written.
        """
        live = self.live
        with live.lock:
            if self.batch is not None:  # nested in this thread (the lock is re-entrant): join it
                yield self.batch
                return
            live.go_live()
            if not self._repaired:  # once, before this process's first own write (repairs.py says why)
                self._repaired = True
                with contextlib.suppress(MemexError):  # a repair that fails is tried by the next writer
                    repair_contexts(lambda: live.notes, self.writing)
            with self.conn.process_lock():
                live.follow(force=True)
                batch = WriteBatch(live.read_only(), live.views.graph)
                self.batch = batch
                try:
                    yield batch
                finally:
                    self.batch = None
                self._commit(batch)

    def _events(self, batch: WriteBatch) -> list[Event]:
        """The batch as events, stamped with its batch id and size (a reader folds it whole or not at all)."""
        notes, clock = self.live.notes, self.live.clock
        events: list[Event] = []
        for nid in batch.order:
            if nid in batch.deletes:
                if nid in notes:
                    events.append(Event(clock.next(), nid, DELETE, None, None, "system", note_record.now_iso(),
                                        cause=batch.causes.get(nid, "")))
                continue
            events += diff(notes.get(nid), batch.puts[nid], ids=clock, by="system",
                           cause=batch.causes.get(nid, ""), replace=nid in batch.replaced)
        if not events:
            return []
        bid, n = events[0].id, len(events)
        return [replace(e, batch=bid, size=n, t=event_ms(bid)) for e in events]

    def _commit(self, batch: WriteBatch) -> None:
        events = self._events(batch)
        if not events:
            return
        live = self.live
        vectors = self._vectors_for(batch, {e.note_id for e in events if e.field != DELETE})
        try:
            self.conn.log.append(events)  # the commit point
        except Exception as exc:  # noqa: BLE001
            if self.conn.server:
                raise backend.server_problem(self.conn.settings, exc) from exc
            raise StoreError(f"Writing to the store failed: {type(exc).__name__}: {exc}. Nothing was saved.") from exc
        for ev in events:  # an imported note brings its recall counts along (they are not logged)
            note = batch.puts.get(ev.note_id)
            if ev.field == CREATE and note is not None and (note.retrieval_count or note.last_accessed):
                live.recall.set(note)
        live.fold_in(events, vectors)
        changed = list(dict.fromkeys(e.note_id for e in events))
        alive = [n for n in changed if n in live.notes]
        gone = [n for n in changed if n not in live.notes]
        with contextlib.suppress(Exception):  # the view is derived: a lag is repaired on the next open
            live.write_view(alive, gone, embed_missing=False)
        if gone:
            self.redact(gone)
        live.committed(len(events))

    def _vectors_for(self, batch: WriteBatch, ids: set[str]) -> dict[str, np.ndarray]:
        """A vector for each written note: given with the put, kept (same text), or embedded."""
        live = self.live
        out: dict[str, np.ndarray] = {}
        need: list[str] = []
        for nid in ids:
            note = batch.puts[nid]
            current = live.notes.get(nid)
            if nid in batch.embeddings:
                out[nid] = batch.embeddings[nid]
            elif current is not None and nid in live.views.vectors \
                    and current.text_for_embedding() == note.text_for_embedding():
                out[nid] = live.views.vectors[nid]
            else:
                need.append(nid)
        if need:
            fresh = live.embedder.embed([batch.puts[n].text_for_embedding() for n in need])
            out.update({n: np.asarray(v, dtype=np.float32) for n, v in zip(need, fresh)})
        return out

    def caused_by(self, cause: str) -> list[Event]:
        """Every committed event recorded with ``cause`` (a write's key): how a process that resumes a
        write, or a decision, knows an earlier process (killed before it could say so) already did it."""
        if not cause:
            return []
        with self.live.lock:
            self.live.follow(force=True)
            return [e for e in self.conn.read_log({"cause": cause}) if e.id in self.live.follower.seen]

    def unredacted(self, note_id: str) -> list[Event]:
        """A note's events that still hold its text (its tombstone holds none)."""
        return [e for e in self.conn.log.for_note(note_id) if not e.redacted and e.field != DELETE]

    def redact(self, note_ids: list[str]) -> None:
        """Remove the text of deleted notes from their events (the tombstone stays)."""
        for nid in note_ids:
            evs = self.unredacted(nid)
            if evs:
                self.conn.log.rewrite([redacted(e) for e in evs])
