"""The change log: an append-only Chroma collection, one record per change of one note.

Why a log: appends never conflict, so two writers (threads, processes, machines over one Chroma
server) cannot overwrite each other; an edit costs one small record whatever the note's age; and
"the memory as of a date", the review inbox's before/after and revert all read the same record.

Event ids sort in the order the changes were made: milliseconds since the epoch (kept
monotonic per process and never below the newest id this process has seen, Lamport style), a
per-process counter and random bits for uniqueness across machines. Every event also carries
its batch id and the batch's size, so a reader can tell a whole write from one still arriving
(or torn by a crash): incomplete batches are never folded.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, replace
from typing import Any

from ..errors import StoreError
from ..notes import parse_time
from .codec import dumps

CREATE = "@create"  # new = the note as created (fields + the history it was created with)
DELETE = "@delete"  # the tombstone: the note is gone; its earlier events are redacted
PAGE = 2000


@dataclass(frozen=True)
class Event:
    """One change: the field of a note that changed, from what to what, by whom, when and why."""

    id: str
    note_id: str
    field: str
    old: Any
    new: Any
    by: str
    at: str
    batch: str = ""
    cause: str = ""
    size: int = 1  # how many events the batch holds
    t: int = 0  # when it was appended (ms, writer's clock): followers poll on it
    redacted: bool = False


class EventClock:
    """Sortable unique ids, monotonic in this process and after every id it has observed."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last_ms = 0
        self._seq = 0
        self._node = os.urandom(4).hex()

    def observe(self, event_id: str) -> None:
        with self._lock:
            self._last_ms = max(self._last_ms, event_ms(event_id))

    def next(self) -> str:
        with self._lock:
            now = int(time.time() * 1000)
            if now > self._last_ms:
                self._last_ms, self._seq = now, 0
            else:
                self._seq += 1
                if self._seq > 0xFFFFF:
                    self._last_ms, self._seq = self._last_ms + 1, 0
            return f"{self._last_ms:012x}{self._seq:05x}-{self._node}{os.urandom(2).hex()}"


def event_ms(event_id: str) -> int:
    try:
        return int(event_id[:12], 16)
    except ValueError:
        return 0


def at_ms(at: str) -> int:
    try:
        return int(parse_time(at).timestamp() * 1000)
    except Exception:  # noqa: BLE001 - a bad time sorts first rather than failing a read
        return 0


def to_record(ev: Event) -> dict[str, Any]:
    return {"note": ev.note_id, "field": ev.field, "by": ev.by, "at": ev.at, "at_ms": at_ms(ev.at),
            "t": ev.t, "batch": ev.batch, "size": ev.size, "cause": ev.cause, "redacted": ev.redacted,
            "v": dumps({"old": ev.old, "new": ev.new})}


def from_record(eid: str, meta: dict[str, Any]) -> Event:
    try:
        values = json.loads(meta["v"])
        return Event(id=eid, note_id=str(meta["note"]), field=str(meta["field"]), old=values.get("old"),
                     new=values.get("new"), by=str(meta.get("by", "system")), at=str(meta.get("at", "")),
                     batch=str(meta.get("batch", "")), cause=str(meta.get("cause", "") or ""),
                     size=int(meta.get("size", 1) or 1), t=int(meta.get("t", 0) or 0),
                     redacted=bool(meta.get("redacted", False)))
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise StoreError(f"The change log holds a damaged record ({eid}): {exc}") from exc


def whole_batches(events: list[Event]) -> tuple[list[Event], set[str]]:
    """(events of complete batches sorted by id, ids of batches still incomplete)."""
    by_batch: dict[str, list[Event]] = defaultdict(list)
    for ev in events:
        by_batch[ev.batch].append(ev)
    done: list[Event] = []
    partial: set[str] = set()
    for bid, evs in by_batch.items():
        if len(evs) >= evs[0].size:
            done.extend(evs)
        else:
            partial.add(bid)
    done.sort(key=lambda e: e.id)
    return done, partial


class EventLog:
    """Append and read events in one Chroma collection (embeddings: a 1-d placeholder)."""

    def __init__(self, collection: Any, max_batch: int) -> None:
        self.col = collection
        self.max_batch = max_batch

    def append(self, events: list[Event], *, upsert: bool = False) -> None:
        """One Chroma ``add`` per chunk; with the batch size on every event, a reader folds a batch
        only once all of it is there, so even a multi-chunk write is whole or absent. ``upsert``: the
        same ids written again replace themselves (a migration run again after it was cut off)."""
        for start in range(0, len(events), self.max_batch):
            chunk = events[start:start + self.max_batch]
            write = self.col.upsert if upsert else self.col.add
            write(ids=[e.id for e in chunk], embeddings=[[float(e.t % 1000)] for e in chunk],
                  metadatas=[to_record(e) for e in chunk])

    def read(self, where: dict[str, Any] | None = None) -> list[Event]:
        """Every event matching ``where`` (a Chroma metadata filter), sorted by id."""
        out: list[Event] = []
        offset = 0
        while True:
            got = self.col.get(where=where, include=["metadatas"], limit=PAGE, offset=offset)
            out.extend(from_record(eid, meta) for eid, meta in zip(got["ids"], got["metadatas"]))
            if len(got["ids"]) < PAGE:
                break
            offset += PAGE
        out.sort(key=lambda e: e.id)
        return out

    def since(self, t_ms: int) -> list[Event]:
        return self.read({"t": {"$gte": int(t_ms)}})

    def for_note(self, note_id: str) -> list[Event]:
        return self.read({"note": note_id})

    def rewrite(self, events: list[Event]) -> None:
        """Replace stored events by redacted versions (forget); ids and order are kept."""
        for start in range(0, len(events), self.max_batch):
            chunk = events[start:start + self.max_batch]
            self.col.update(ids=[e.id for e in chunk], metadatas=[to_record(e) for e in chunk])

    def count(self) -> int:
        return int(self.col.count())


def redacted(ev: Event) -> Event:
    """The event with its values gone; a creation keeps only the id, a tombstone stays a tombstone."""
    if ev.field == CREATE:
        return replace(ev, old=None, new={"id": ev.note_id}, redacted=True)
    return replace(ev, old=None, new=None, redacted=True)
