"""Migrations between store formats, applied in order when a store is opened.

Format 1 (Memex 0.1): one Chroma record per note, links and the whole history in its metadata.
Format 2: the change log + the notes view. ``v1_to_v2`` expands each note into events (a creation
holding the note as it was at version 0, then one event per recorded change, with its original
time), so history, "as of" and revert keep working for old notes.

Safety: the old folder is first copied to ``backups/``; the new store is built beside it in
``chroma.new`` and swapped in with two renames at the end (compaction.recover finishes or undoes a
swap a crash interrupted). A kill at any point leaves the old store usable: the marker still says
format 1 until the very end, and the migration simply runs again.

On a Chroma server the old collection stays (it is the backup) and the new one is written beside it.
A migration never pretends: when the old data cannot be read or the new cannot be written (the server
is down, a timeout, a damaged collection) it stops with a message and the marker keeps format 1, so it
runs again next time. Event ids are derived from the notes (``MigrationIds``), so a run that was cut
off and is run again writes the very same records (upserts) instead of a second copy.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import StoreError
from ..notes import Note, now_iso
from . import backend
from .codec import LOGGED_FIELDS, field_value, note_state, text_hash, view_record
from .compaction import recover
from .datadir import FORMAT_VERSION, write_marker
from .events import CREATE, Event, EventClock, EventLog, at_ms, event_ms
from .fold import Fold, creation_actor
from .recall import FILE as RECALL_FILE

if TYPE_CHECKING:
    from ..config import Settings


def migrate(settings: Settings, home: Path, version: int) -> None:
    if version == 1:
        v1_to_v2(settings, Path(home))
    write_marker(home, FORMAT_VERSION, migrated_from=version, migrated=now_iso())


class MigrationIds:
    """Event ids for one note's migrated events: the note's own time, a sequence, and a hash of its id.

    Same note, same ids, on every run (an interrupted migration run again overwrites its own records),
    in the usual id format and order (``events.EventClock``)."""

    def __init__(self, note: Note) -> None:
        born = min([note.timestamp, *(c.at for c in note.history[:1])])
        self._ms = max(0, at_ms(born))
        self._node = hashlib.sha1(note.id.encode("utf-8")).hexdigest()[:12]
        self._seq = 0

    def next(self) -> str:
        eid = f"{self._ms:012x}{self._seq:05x}-{self._node}"
        self._seq += 1
        return eid


def note_events(note: Note, clock: EventClock | MigrationIds) -> list[Event]:
    """A format-1 note as events that fold back to exactly that note (fields and history)."""
    state = note.state_at(0)
    first = Note.from_dict(note.to_dict() | state | {"history": []})
    born = min([note.timestamp, *(c.at for c in note.history[:1])])
    events = [Event(clock.next(), note.id, CREATE, None, note_state(first), creation_actor(note), born)]
    for c in note.history:
        events.append(Event(clock.next(), note.id, c.field, c.old, c.new, c.by, c.at, cause=c.cause))
    # Histories written by hand (benchmarks, old bugs) may not replay exactly: settle the rest.
    check = Fold()
    for ev in events:
        check.apply(ev)
    folded = check.notes[note.id]
    for name in LOGGED_FIELDS:
        if field_value(folded, name) != field_value(note, name):
            events.append(Event(clock.next(), note.id, name, field_value(folded, name), field_value(note, name),
                                "system", now_iso(), cause="migration"))
    bid, t = events[0].id, event_ms(events[0].id)
    return [replace(e, batch=bid, size=len(events), t=t) for e in events]


def _read_v1(client: Any) -> tuple[list[Note], dict[str, Any]]:
    from .codec import v1_record_to_note

    col = client.get_collection(backend.V1_NOTES, embedding_function=None)
    notes, vectors = [], {}
    total, offset = col.count(), 0
    while offset < total:
        got = col.get(include=["documents", "metadatas", "embeddings"], limit=2000, offset=offset)
        for i, nid in enumerate(got["ids"]):
            notes.append(v1_record_to_note(got["documents"][i], got["metadatas"][i]))
            vectors[nid] = [float(x) for x in got["embeddings"][i]]
        offset += len(got["ids"]) or total
    return notes, vectors


def _write_v2(cols: backend.Collections, notes: list[Note], vectors: dict[str, Any]) -> None:
    log = EventLog(cols.events, cols.max_batch)
    pending: list[Event] = []
    last: dict[str, str] = {}
    for note in notes:
        events = note_events(note, MigrationIds(note))
        last[note.id] = events[-1].id
        pending += events
        if len(pending) >= 1000:
            log.append(pending, upsert=True)
            pending = []
    log.append(pending, upsert=True)
    for start in range(0, len(notes), cols.max_batch):
        chunk = notes[start:start + cols.max_batch]
        records = [view_record(n, last[n.id]) for n in chunk]
        metas = [m | {"text_hash": text_hash(n)} for n, (_d, m) in zip(chunk, records)]
        cols.view.upsert(ids=[n.id for n in chunk], embeddings=[vectors[n.id] for n in chunk],
                         documents=[d for d, _m in records], metadatas=metas)


def _keep_recall_counts(home: Path, notes: list[Note]) -> None:
    counts = {n.id: [n.retrieval_count, n.last_accessed] for n in notes if n.retrieval_count}
    if counts:
        tmp = home / (RECALL_FILE + ".tmp")
        tmp.write_text(json.dumps(counts), encoding="utf-8")
        os.replace(tmp, home / RECALL_FILE)


def _backup(home: Path, live: Path) -> None:
    """Copy the format-1 folder to backups/ once (a copy cut short by a kill is redone)."""
    folder = home / "backups"
    if any(p.name.startswith("chroma-format1-") for p in folder.glob("*")):
        return
    tmp = folder / "partial-copy"
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(live, tmp)
    os.rename(tmp, folder / f"chroma-format1-{time.strftime('%Y%m%d-%H%M%S')}")


def v1_to_v2(settings: Settings, home: Path) -> None:
    if settings.store_backend == "server":
        return _v1_to_v2_server(settings)
    recover(home)
    live, new, done = home / "chroma", home / "chroma.new", home / "chroma.new.done"
    if not live.exists():
        return  # an empty format-1 folder: nothing to move
    _backup(home, live)  # before Chroma opens it: opening alone rewrites parts of the folder
    client = backend.client_for(settings, live)
    try:
        names = {getattr(c, "name", c) for c in client.list_collections()}
        if backend.V1_NOTES not in names:
            return  # already swapped (a kill after the swap, before the marker was written)
        notes, vectors = _read_v1(client)
    except Exception as exc:  # noqa: BLE001
        raise StoreError(f"Migrating {home} to store format {FORMAT_VERSION} failed while reading it "
                         f"({type(exc).__name__}: {exc}); the store was not changed.") from exc
    finally:
        backend.release(settings, client)
    shutil.rmtree(new, ignore_errors=True)
    cols = backend.open_collections(settings, new)
    _write_v2(cols, notes, vectors)
    backend.release(settings, cols.client)
    _keep_recall_counts(home, notes)
    done.write_text("complete", encoding="utf-8")
    old = home / "chroma.old"
    os.rename(live, old)
    os.rename(new, live)
    done.unlink()
    shutil.rmtree(old, ignore_errors=True)


def _v1_to_v2_server(settings: Settings) -> None:
    """On a server the old collection stays (it is the backup); the new ones are written beside it."""
    cols = backend.open_collections(settings, Path("."))
    try:
        names = {getattr(c, "name", c) for c in cols.client.list_collections()}
    except Exception as exc:  # noqa: BLE001 - cannot tell whether there is old data: do not guess
        raise _not_migrated(settings, "listing its collections", exc) from exc
    if backend.V1_NOTES not in names:
        return  # this server holds no format-1 data
    try:
        notes, vectors = _read_v1(cols.client)
    except Exception as exc:  # noqa: BLE001
        raise _not_migrated(settings, "reading the old notes", exc) from exc
    try:
        _write_v2(cols, notes, vectors)
    except Exception as exc:  # noqa: BLE001
        raise _not_migrated(settings, "writing the new format", exc) from exc
    _keep_recall_counts(Path(settings.home), notes)  # counts live beside this machine's marker


def _not_migrated(settings: Settings, step: str, exc: BaseException) -> StoreError:
    return StoreError(
        f"Migrating the memories on {backend.describe(settings)} to store format {FORMAT_VERSION} stopped while "
        f"{step} ({type(exc).__name__}: {str(exc)[:200]}). Nothing was lost: the old notes are untouched and "
        "this store is still marked as the old format, so the migration runs again the next time Memex "
        "opens it (start the server if it is stopped).")
