"""Editing notes: update fields, delete, link, unlink.

Each is one ``writing()`` batch, so each becomes one batch of events; ``cause`` (e.g.
"proposal:<id>") is recorded on the events it makes.
"""

from __future__ import annotations

from typing import Any

from ..errors import StoreError
from ..notes import EDITABLE_FIELDS, Note, clean_content, normalise_time
from .codec import note_copy
from .commit import Writer
from .forget import Forgetter
from .queries import Reads


class Edits:
    """The edit methods of a store: each a ``writing()`` batch of its writer."""

    def __init__(self, writer: Writer, reads: Reads, forgetter: Forgetter) -> None:
        self.writer = writer
        self.reads = reads
        self.forgetter = forgetter

    def update(self, note_id: str, by: str = "person", *, cause: str = "", **fields: Any) -> Note:
        """Change fields of a note (recorded in its history, re-embedded when the text changes)."""
        with self.writer.writing() as w:
            note = w.get(self.reads.resolve_id(note_id))
            for name, value in fields.items():
                if name not in EDITABLE_FIELDS:
                    raise StoreError(f"Field {name!r} cannot be edited; editable: {', '.join(EDITABLE_FIELDS)}.")
                if name == "content":
                    value = clean_content(value)
                elif name in ("keywords", "tags"):
                    value = [str(v).strip() for v in value if str(v).strip()]
                elif name == "context":
                    value = " ".join(str(value).split())
                elif name == "timestamp":
                    value = normalise_time(value)
                note.set_field(name, value, by)
            if by == "person" and {"keywords", "context", "tags"} & set(fields):
                note.needs_enrichment = False  # the person wrote the enrichment themselves
            w.put(note, cause=cause)
        # the folded note (with its new history), unless this ran inside an outer, uncommitted batch
        return note_copy(note if self.writer.batch is not None else self.writer.live.notes.get(note.id, note))

    def delete(self, note_ids: list[str] | str) -> int:
        """Delete notes and every link to them: forgotten, text and vectors gone from disk (forget.py).

        Returns how many were deleted."""
        ids = [note_ids] if isinstance(note_ids, str) else list(note_ids)
        resolved = [self.reads.resolve_id(i) for i in ids]
        return len(self.forgetter.forget(resolved).forgotten)

    def link(self, source: str, target: str, reason: str = "", by: str = "person", *, cause: str = "") -> bool:
        with self.writer.writing() as w:
            src, dst = self.reads.resolve_id(source), self.reads.resolve_id(target)
            if src == dst:
                raise StoreError("A note cannot link to itself.")
            note = w.get(src)
            changed = note.add_link(dst, reason or "linked by hand", by)
            if changed:
                w.put(note, cause=cause)
        return changed

    def unlink(self, source: str, target: str, by: str = "person") -> bool:
        """Remove the link between two notes, in whichever direction(s) it exists."""
        changed = False
        with self.writer.writing() as w:
            src, dst = self.reads.resolve_id(source), self.reads.resolve_id(target)
            for a, b in ((src, dst), (dst, src)):
                note = w.get(a)
                if note.remove_link(b, by):
                    w.put(note)
                    changed = True
        return changed
