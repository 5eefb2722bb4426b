"""The record codec: how a note and an event become Chroma records, and back.

Chroma metadata holds only flat str/int/float/bool values, so structured values (a note's fields,
an event's old and new value) travel as one JSON string. Flat copies of a few fields (time,
source, note id, field) sit beside it so Chroma can filter on them (``where=``).
"""

from __future__ import annotations

import copy
import hashlib
import json
from dataclasses import fields
from typing import Any

from ..errors import StoreError
from ..notes import Note, parse_time, plain_copy

# Fields that are never logged: recall statistics live outside the write path (recall.py), the
# id names the note, and history is derived from the log itself.
UNLOGGED = ("id", "history", "last_accessed", "retrieval_count")
LOGGED_FIELDS = tuple(f.name for f in fields(Note) if f.name not in UNLOGGED)


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def field_value(note: Note, name: str) -> Any:
    return plain_copy(getattr(note, name))


def note_copy(note: Note) -> Note:
    """A private copy of a note to change: its fields are copied, its history entries shared.

    Recorded changes are never modified (a change to a note adds entries), so sharing them keeps
    a copy O(1) in the note's age where a deep copy grew with every edit.
    """
    out = copy.copy(note)
    out.keywords, out.tags = list(note.keywords), list(note.tags)
    out.links = [copy.copy(x) for x in note.links]
    out.history = list(note.history)
    return out


def note_state(note: Note) -> dict[str, Any]:
    """Everything the log records about a note at creation: its fields plus its initial history."""
    data = note.to_dict()
    data.pop("last_accessed", None)
    data.pop("retrieval_count", None)
    return data


# -- the notes view: one record per current note -------------------------------------------------
def view_record(note: Note, last_event: str) -> tuple[str, dict[str, Any]]:
    """(document, metadata) of the view record. History is NOT in it: the log holds that, so an
    edit rewrites a record of constant size, whatever the note's age."""
    data = {name: field_value(note, name) for name in LOGGED_FIELDS if name != "content"}
    meta = {
        "note": dumps(data),
        "ts": parse_time(note.timestamp).timestamp(),
        "source": note.source,
        "needs_enrichment": note.needs_enrichment,
        "last_event": last_event,
    }
    return note.content, meta


def text_hash(note: Note) -> str:
    """Identifies the text a vector was computed from: an unchanged hash means no re-embedding."""
    return hashlib.sha1(note.text_for_embedding().encode("utf-8", "surrogatepass")).hexdigest()[:16]


def v1_record_to_note(doc: str | None, meta: dict[str, Any] | None) -> Note:
    """A record of store format 1 (one record per note, history inside): used by the migration."""
    if not meta or "note" not in meta:
        raise StoreError("a record in the Chroma collection is not a Memex note")
    data = json.loads(meta["note"])
    data["content"] = doc or ""
    return Note.from_dict(data)
