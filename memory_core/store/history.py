"""Time in the store: the events, the memory as of a date, what changed between two dates, revert.

All of it reads the change log; none of it writes, except ``revert``, which appends new events
(the log is never rewritten to go back: a revert is itself a change, and can be reverted).
"""

from __future__ import annotations

import contextlib
import copy
from dataclasses import dataclass
from typing import Any

import networkx as nx

from ..errors import InputError, NotFoundError, StoreError
from ..notes import EDITABLE_FIELDS, Note, parse_time
from .codec import field_value
from .commit import Writer
from .events import Event, at_ms
from .fold import fold
from .queries import Reads
from .views import build_graph

REVERTIBLE = (*EDITABLE_FIELDS, "links", "turn_context")  # a context repair is revertible when named
# What "revert" (no fields named) brings back: not the recall context, which an old version may hold
# with the assistant's replies (repairs.py removed them; bringing them back would steer recall again).
REVERTED_BY_DEFAULT = (*EDITABLE_FIELDS, "links")


@dataclass
class FieldChange:
    """What a revert would change in one field; ``conflict``: the person edited it after that version."""

    field: str
    current: Any
    target: Any
    conflict: bool = False


def _where(note_id: str | None, since: str | None, until: str | None) -> dict[str, Any] | None:
    parts: list[dict[str, Any]] = []
    if note_id:
        parts.append({"note": note_id})
    if since:
        parts.append({"at_ms": {"$gt": at_ms(since)}})
    if until:
        parts.append({"at_ms": {"$lte": at_ms(until)}})
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else {"$and": parts}


class History:
    """The log-reading methods of a store, and revert (which writes through its writer)."""

    def __init__(self, reads: Reads, writer: Writer) -> None:
        self.reads = reads
        self.writer = writer
        self.live = writer.live

    def events(self, note_id: str | None = None, since: str | None = None,
               until: str | None = None) -> list[Event]:
        """Events (oldest first) of one note or all, changed after ``since`` and up to ``until``
        (ISO times of the change). Only whole writes are listed; forgotten notes show as tombstones."""
        for value in (since, until):
            if value:
                parse_time(value)  # a clear InputError for a bad time
        with self.live.lock:
            self.live.follow()
            nid = note_id
            if note_id:
                with contextlib.suppress(NotFoundError):
                    nid = self.reads.resolve_id(note_id)  # a deleted note's id is still asked as is
            try:
                found = self.live.conn.log.read(_where(nid, since, until))
            except Exception as exc:  # noqa: BLE001
                raise StoreError(f"Reading the change log failed: {type(exc).__name__}: {exc}") from exc
            folded = self.live.follower.seen  # ids of whole batches: a torn or in-flight write is not listed
        return [e for e in found if e.id in folded]

    def changes_between(self, a: str, b: str) -> list[Event]:
        """Every change made after time ``a`` up to time ``b`` (the explorer's "what happened")."""
        return self.events(since=a, until=b)

    def as_of(self, when: str) -> dict[str, Note]:
        """The notes as they were at ``when`` (fold of the events up to then); links to notes that
        did not exist then are left out. Read-only copies: changing them changes nothing."""
        notes = fold(self.events(until=when)).notes
        for note in notes.values():
            note.links = [x for x in note.links if x.target in notes]
        return notes

    def graph_as_of(self, when: str) -> nx.DiGraph:
        return build_graph(self.as_of(when))

    def revert_plan(self, note_id: str, version: int, fields: list[str] | None = None) -> list[FieldChange]:
        """Exactly what ``revert(note_id, version, fields=...)`` would change, field by field.

        A field the person edited after ``version`` is marked ``conflict``: a revert made on behalf
        of someone else (a model, a review) leaves it alone unless it is named in ``fields``.
        """
        note = self.reads.get(note_id)
        state = note.state_at(version)
        with self.live.lock:
            state["links"] = [x for x in state["links"] if x["target"] in self.live.notes]
        names = list(fields) if fields is not None else list(REVERTED_BY_DEFAULT)
        unknown = [f for f in names if f not in REVERTIBLE]
        if unknown:
            raise InputError(f"Cannot revert {', '.join(unknown)}; revertible fields: {', '.join(REVERTIBLE)}.")
        later = note.history[version:]
        plan = []
        for name in names:
            current, target = field_value(note, name), state[name]
            if current != target:
                conflict = any(c.field == name and c.by == "person" for c in later)
                plan.append(FieldChange(name, copy.deepcopy(current), copy.deepcopy(target), conflict))
        return plan

    def revert(self, note_id: str, version: int, by: str = "person", fields: list[str] | None = None) -> Note:
        """Bring fields of a note back to an earlier version, as new events (so a revert can be reverted).

        ``fields`` None: every field that differs (a person reverting decides for themselves; any
        other actor skips the fields the person edited since). Links to notes deleted since
        then are not restored.
        """
        nid = self.reads.resolve_id(note_id)
        with self.writer.writing() as w:
            plan = self.revert_plan(nid, version, fields)
            note = w.get(nid)
            for fc in plan:
                if fields is None and fc.conflict and by != "person":
                    continue
                note.set_field(fc.field, fc.target, by)
            w.put(note, cause=f"revert:v{version}")
        return self.reads.get(nid)
