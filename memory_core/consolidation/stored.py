"""Profile lines and digests kept as notes: edited, corrected, reverted and deleted like any note.

Why notes (and not a file of their own): a note already has everything a line needs — an edit with
its history and revert, a delete that forgets (``store.forget``), export and import, a detail page.
A line is a note with ``source`` "profile" or "digest", ``source_ref`` naming it across rebuilds
("profile:people:anna"), a tag naming its section, and a link ``by="consolidation"`` to every note it
cites. Three rules keep it honest:

* a rebuild never overwrites a line the person edited (a ``content`` change ``by="person"``);
* forgetting a cited note forgets the lines citing it (``store.forget``); the next rebuild makes them
  again from what remains;
* a line the person deleted is not made again until a note it did not cite comes (``dismissed.json``
  keeps its name and the ids it cited; ids only, no text).
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import InputError
from ..notes import CONSOLIDATION, DERIVED_SOURCES, Link, Note, clean_content, is_derived
from .extract import Line

if TYPE_CHECKING:
    from ..store import Store

BATCH = 4  # lines committed per write batch (embedding and commit): a reply waits at most for one batch
DISMISSED = Path("consolidation") / "dismissed.json"


@dataclass
class SaveReport:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    kept_edited: int = 0  # lines the person edited, left as they are
    dismissed: int = 0  # lines the person deleted, not made again
    removed: list[str] = field(default_factory=list)  # lines no longer supported by any note


def edited_by_person(note: Note) -> bool:
    return any(c.field == "content" and c.by == "person" for c in note.history)


def cited(note: Note) -> list[str]:
    """The notes a line cites (its links made by consolidation)."""
    return [x.target for x in note.links if x.by == CONSOLIDATION]


def lines_of(store: Store, kind: str | None = None) -> list[Note]:
    """The stored profile lines and digests (one kind, or both), newest first."""
    kinds = (kind,) if kind else DERIVED_SOURCES
    return sorted((n for n in store.notes_view().values() if n.source in kinds),
                  key=lambda n: (n.timestamp, n.id), reverse=True)


def section_of(note: Note) -> str:
    """The section a line belongs to (its ``source_ref`` is "<kind>:<section>:...")."""
    parts = note.source_ref.split(":")
    return parts[1] if len(parts) > 2 else ""


# -- the person's deletions ---------------------------------------------------------------------------
def _dismissed_path(store: Store) -> Path:
    return Path(store.home) / DISMISSED


def load_dismissed(store: Store) -> dict[str, list[str]]:
    try:
        data = json.loads(_dismissed_path(store).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {str(k): [str(x) for x in v] for k, v in data.items() if isinstance(v, list)} \
        if isinstance(data, dict) else {}


def _save_dismissed(store: Store, data: dict[str, list[str]]) -> None:
    path = _dismissed_path(store)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(data, fh)
    os.replace(tmp, path)


def dismiss(store: Store, note_id: str) -> None:
    """Delete a profile line or digest for good: forgotten now, and not made again from the same notes."""
    note = store.get(store.resolve_id(note_id))
    if not is_derived(note):
        raise InputError("That is one of your own notes, not a profile line or digest; delete it on the Notes page.")
    data = load_dismissed(store)
    data[note.source_ref] = sorted(set(data.get(note.source_ref, [])) | set(cited(note)))
    _save_dismissed(store, data)
    store.forget([note.id])


def edit_line(store: Store, note_id: str, text: str) -> Note:
    """The person's own wording of a line: kept as it is by every later rebuild."""
    note = store.get(store.resolve_id(note_id))
    if not is_derived(note):
        raise InputError("That is one of your own notes, not a profile line or digest.")
    return store.update(note.id, by="person", content=clean_content(text))


# -- saving a rebuild ---------------------------------------------------------------------------------
def _new_note(line: Line, cites: list[str]) -> Note:
    return Note(content=clean_content(line.text), source=line.kind, source_ref=line.ref, speaker="memex",
                conversation_id=line.conversation_id, tags=[line.kind, line.section], timestamp=line.timestamp,
                context=_context(line, cites),
                links=[Link(target=c, reason="cited", by=CONSOLIDATION) for c in cites])


def _context(line: Line, cites: list[str]) -> str:
    return f"Consolidated ({line.written_by}) from {len(cites)} note{'s' if len(cites) != 1 else ''}."


def _same(note: Note, line: Line, cites: list[str]) -> bool:
    return note.content == line.text and cited(note) == cites and note.timestamp == line.timestamp


def _bring_up_to_date(note: Note, line: Line, cites: list[str]) -> None:
    note.set_field("content", clean_content(line.text), CONSOLIDATION)
    note.set_field("context", _context(line, cites), CONSOLIDATION)
    note.set_field("timestamp", line.timestamp, CONSOLIDATION)
    note.set_field("links", [Link(target=c, reason="cited", by=CONSOLIDATION) for c in cites], CONSOLIDATION)


def _commit(store: Store, todo: list[tuple[Line, list[str], str]]) -> int:
    """Write one batch: new lines created, stored ones updated unless the person edited (or deleted) them
    since they were read (read again under the store's write lock). How many were skipped so."""
    skipped = 0
    with store.writing() as w:
        for line, cites, note_id in todo:
            if not note_id:
                w.put(_new_note(line, cites), cause=CONSOLIDATION)
                continue
            if not w.exists(note_id):
                skipped += 1
                continue
            note = w.get(note_id)
            if edited_by_person(note):
                skipped += 1
                continue
            _bring_up_to_date(note, line, cites)
            w.put(note, cause=CONSOLIDATION)
    return skipped


def save_lines(store: Store, lines: list[Line], kinds: tuple[str, ...],
               pause: Callable[[], None] = lambda: None) -> SaveReport:
    """Store a rebuild's lines of these kinds: new lines created, changed ones updated, lines no note
    supports any more forgotten; lines the person edited or deleted are left alone (module doc)."""
    report = SaveReport()
    notes = store.notes_view()
    existing = {n.source_ref: n for n in notes.values() if n.source in kinds}
    dismissed = load_dismissed(store)
    todo: list[tuple[Line, list[str], str]] = []
    for line in lines:
        note = existing.pop(line.ref, None)
        cites = [c for c in dict.fromkeys(line.cites) if c in notes]
        if not cites:
            continue
        if line.ref in dismissed and set(cites) <= set(dismissed[line.ref]):
            report.dismissed += 1
            if note is not None and not edited_by_person(note):
                report.removed.append(note.id)
            continue
        if note is not None and edited_by_person(note):
            report.kept_edited += 1
        elif note is None:
            todo.append((line, cites, ""))
            report.created += 1
        elif _same(note, line, cites):
            report.unchanged += 1
        else:
            todo.append((line, cites, note.id))
            report.updated += 1
    for start in range(0, len(todo), BATCH):
        pause()
        skipped = _commit(store, todo[start:start + BATCH])
        report.updated -= skipped
        report.kept_edited += skipped
    report.removed += [n.id for n in existing.values() if not edited_by_person(n)]
    if report.removed:
        pause()
        store.forget(report.removed)  # (an id deleted meanwhile, on the page, is accepted there)
    return report


__all__ = ["SaveReport", "cited", "dismiss", "edit_line", "edited_by_person", "lines_of", "load_dismissed",
           "save_lines", "section_of"]
