"""The fold: events -> notes, and the inverse, a changed note -> the events that describe it.

Folding rules (one place, used by the live store, ``reindex``, ``as_of`` and the tests):
- ``@create`` makes the note from its recorded state (fields + the history it was born with);
- a field event sets the field and appends a Change to the note's history; when the field no
  longer holds the event's ``old`` value (two writers changed it at once), scalars take the newer
  event's value (events are applied in id order), and lists (tags, keywords, links) merge: what
  the event added is added, what it removed is removed, so concurrent additions both survive;
- an event for a field a Note does not have ("created", "evolution") is a history entry only;
- ``@delete`` removes the note; redacted events (forgotten notes) are skipped.
"""

from __future__ import annotations

import copy
from typing import Any

from ..notes import Change, Link, Note, now_iso, plain_copy
from .codec import LOGGED_FIELDS, field_value, note_state
from .events import CREATE, DELETE, Event

MERGED_LISTS = ("tags", "keywords")


class Fold:
    """Current notes folded from events, with the id of the last event applied to each note."""

    def __init__(self) -> None:
        self.notes: dict[str, Note] = {}
        self.last: dict[str, str] = {}  # note id -> id of the newest event folded into it

    def apply(self, ev: Event) -> bool:
        """Apply one event; False when it arrived out of order for its note (the caller refolds)."""
        if ev.redacted and ev.field != DELETE:
            return True
        if ev.id <= self.last.get(ev.note_id, ""):
            return False
        self.last[ev.note_id] = ev.id
        if ev.field == CREATE:
            self.notes[ev.note_id] = Note.from_dict(ev.new)  # from_dict copies what it keeps
            return True
        if ev.field == DELETE:
            self.notes.pop(ev.note_id, None)
            return True
        note = self.notes.get(ev.note_id)
        if note is None:
            return True  # an event for a note deleted meanwhile: nothing to change
        # Replace, never mutate: readers may hold the old object (notes_view snapshots).
        note = copy.copy(note)
        # Events are never changed once made, so the Change may share their values.
        note.history = [*note.history, Change(ev.field, ev.old, ev.new, ev.by, ev.at, ev.cause)]
        if ev.field in LOGGED_FIELDS:
            _set(note, ev.field, _resolve(ev.field, field_value(note, ev.field), ev.old, ev.new))
        self.notes[ev.note_id] = note
        return True

    def refold(self, note_id: str, events: list[Event]) -> None:
        """Fold one note again from all of its events (after a late, out-of-order arrival)."""
        self.notes.pop(note_id, None)
        self.last.pop(note_id, None)
        for ev in sorted(events, key=lambda e: e.id):
            self.apply(ev)


def fold(events: list[Event]) -> Fold:
    """The notes that a list of events describes (events are applied in id order)."""
    out = Fold()
    for ev in sorted(events, key=lambda e: e.id):
        out.apply(ev)
    return out


def _resolve(name: str, current: Any, old: Any, new: Any) -> Any:
    if current == old or not isinstance(new, list) or not isinstance(current, list):
        return copy.deepcopy(new)
    if name == "links":
        old_t = {x["target"] for x in old or []}
        new_t = {x["target"] for x in new}
        kept = [x for x in current if x["target"] not in old_t - new_t]
        have = {x["target"] for x in kept}
        return kept + [copy.deepcopy(x) for x in new if x["target"] not in old_t and x["target"] not in have]
    if name in MERGED_LISTS:
        removed = set(old or []) - set(new)
        kept = [x for x in current if x not in removed]
        return kept + [x for x in new if x not in (old or []) and x not in kept]
    return copy.deepcopy(new)


def _set(note: Note, name: str, value: Any) -> None:
    if name == "links":
        note.links = [Link(**x) for x in value]
    else:
        setattr(note, name, value)


def creation_actor(note: Note) -> str:
    for change in note.history[:1]:
        if change.field == "created":
            return change.by
    return {"import": "import", "manual": "person"}.get(note.source, "system")


def diff(current: Note | None, new: Note, *, ids: Any, by: str = "system", cause: str = "",
         replace: bool = False) -> list[Event]:
    """The events that turn ``current`` (the fold's note, None if new) into ``new``.

    ``by``/``at`` of a field event come from the last history entry the caller recorded for that
    field (``Note.set_field``); a field changed without one is attributed to ``by``. History
    entries for fields a Note does not have (the "created" and "evolution" records) become
    events of their own. ``ids`` is the EventClock that numbers them.
    """
    now = now_iso()
    if current is None or replace:
        return [Event(ids.next(), new.id, CREATE, None, note_state(new), creation_actor(new), now, cause=cause)]
    known = len(current.history)
    tail = new.history[known:] if len(new.history) >= known else []
    last_change: dict[str, Change] = {}
    for change in tail:
        last_change[change.field] = change
    order: list[str] = []
    for change in tail:  # history order first, then fields changed without an entry
        if change.field not in order:
            order.append(change.field)
    order += [f for f in LOGGED_FIELDS if f not in order]
    out: list[Event] = []
    markers = [c for c in tail if c.field not in LOGGED_FIELDS]
    for name in order:
        if name not in LOGGED_FIELDS:
            for c in markers:
                if c.field == name:
                    out.append(Event(ids.next(), new.id, name, plain_copy(c.old), plain_copy(c.new), c.by, c.at or now,
                                     cause=c.cause or cause))
            continue
        old_v, new_v = field_value(current, name), field_value(new, name)
        if old_v == new_v:
            continue
        last = last_change.get(name)
        out.append(Event(ids.next(), new.id, name, old_v, new_v, last.by if last else by,
                         (last.at if last else "") or now, cause=(last.cause if last else "") or cause))
    return out
