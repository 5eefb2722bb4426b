"""The memory at a moment, and what changed between two moments, as plain data for the pages.

Why this shape: the store folds its change log (``store.as_of(when)`` -> notes as they were,
``store.changes_between(a, b)`` -> the events in between). A person asks two questions of that:
"what did this note say then?" and "what changed since?". The first needs the view at one moment
plus the links into a note (the past has no live graph, so they are computed from the notes' own
links); the second needs the *net* change of each note between the two moments (first value before
-> last value after, not every intermediate step) and who made the steps. Both are computed here,
without Streamlit, so they have unit tests and the Notes and Graph pages show the same answer.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timezone
from typing import Any

from ..notes import Change, Link, Note, parse_time, try_parse_time
from .diff import FieldDiff, note_diff


def moment(day: date, at: time | None = None) -> str:
    """An ISO time (UTC) for a day picked in the UI: the end of that day unless a time is given."""
    at = at or time(23, 59, 59)
    return datetime.combine(day, at.replace(tzinfo=None), tzinfo=timezone.utc).replace(microsecond=0).isoformat()


def is_past(when: str, now: datetime | None = None) -> bool:
    """Is this moment before now (then the views are read-only)?"""
    return parse_time(when) < (now or datetime.now(timezone.utc))


def incoming(view: Mapping[str, Note], note_id: str) -> list[tuple[str, Link]]:
    """(source id, link) for every note of the view that links to ``note_id``, sorted by source id."""
    out = [(src.id, link) for src in view.values() for link in src.links if link.target == note_id]
    return sorted(out, key=lambda x: x[0])


def history_until(note: Note, when: str) -> list[Change]:
    """The changes of a note recorded at or before ``when`` (times that cannot be read are kept)."""
    limit = parse_time(when)
    out = []
    for change in note.history:
        at = try_parse_time(change.at)
        if at is not None and at > limit:  # an unreadable time is shown rather than hidden
            continue
        out.append(change)
    return out


@dataclass
class NoteChange:
    """The net change of one note between two moments."""

    note_id: str
    title: str
    status: str  # "added", "removed" or "changed"
    diffs: list[FieldDiff] = field(default_factory=list)
    actors: dict[str, int] = field(default_factory=dict)  # who made the steps, and how many
    events: int = 0


@dataclass
class ChangeSummary:
    since: str
    until: str
    notes: list[NoteChange]

    def count(self, status: str) -> int:
        return sum(1 for n in self.notes if n.status == status)

    @property
    def empty(self) -> bool:
        return not self.notes


def summarise_changes(before: Mapping[str, Note], after: Mapping[str, Note], since: str, until: str,
                      events: Iterable[Any] | None = None) -> ChangeSummary:
    """Notes added, removed and changed between two views (``store.as_of(since)``, ``store.as_of(until)``).

    ``events`` (``store.changes_between(since, until)``) says who made the changes; when given, only
    the notes they name are compared (fast at 10,000 notes); without it every note is compared.
    Notes whose fields ended as they began (a change undone) are left out: nothing to show.
    """
    actors: dict[str, Counter[str]] = {}
    counts: Counter[str] = Counter()
    ids: set[str]
    if events is not None:
        for ev in events:
            nid = str(getattr(ev, "note_id", ""))
            actors.setdefault(nid, Counter())[str(getattr(ev, "by", ""))] += 1
            counts[nid] += 1
        ids = set(actors)
    else:
        ids = set(before) | set(after)

    def title_of(nid: str) -> str:
        note = after.get(nid) or before.get(nid)
        return note.title if note else f"{nid[:8]} (deleted)"

    out: list[NoteChange] = []
    for nid in ids:
        old, new = before.get(nid), after.get(nid)
        if old is None and new is None:
            continue
        status = "added" if old is None else "removed" if new is None else "changed"
        diffs = note_diff(old, new, title_of) if status != "removed" else []
        if status == "changed" and not diffs:
            continue
        out.append(NoteChange(nid, title_of(nid), status, diffs, dict(actors.get(nid, {})), counts.get(nid, 0)))
    order = {"added": 0, "changed": 1, "removed": 2}
    out.sort(key=lambda c: (order[c.status], c.title.lower(), c.note_id))
    return ChangeSummary(since, until, out)
