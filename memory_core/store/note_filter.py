"""Which notes match a person's filters: one rule for ``store.filter`` (the CLI's ``list``), the Notes
table and the Graph page.

Why one module: the three used to disagree (one searched ids, one did not; a note with an unreadable
time made one raise and sorted first in the others), so the same words gave different notes on
different screens. The rule, once:
- text: a case-insensitive substring of the content, the context, the keywords, the tags or the id
  (each field on its own: a phrase never matches across two fields);
- tags: any of them, case-insensitive; sources: any of them;
- since / until: inclusive. A ``date`` (or an ISO day such as ``2024-03-01``) means the whole day in
  UTC; a datetime or a full ISO time is used as given (no zone: UTC). A bound a person typed that
  cannot be read raises ``InputError`` with a message;
- a note whose own time cannot be read counts as the oldest possible: it sorts first and passes an
  ``until`` but never a ``since``. A read never fails on one damaged note.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timezone
from functools import cached_property

from ..notes import Note, parse_time, try_parse_time

OLDEST = datetime.min.replace(tzinfo=timezone.utc)
TimeBound = date | datetime | str | None


def note_time(note: Note) -> datetime:
    """The note's time; an unreadable one is ``OLDEST`` (sorts first instead of breaking a page)."""
    return try_parse_time(note.timestamp) or OLDEST


def time_bound(value: TimeBound, *, end: bool) -> datetime | None:
    """A filter bound as an aware datetime: a day is its first (``end=False``) or last moment, UTC."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    if isinstance(value, str):
        text = value.strip()
        if len(text) != 10:
            return parse_time(text)
        value = parse_time(text).date()  # an ISO day: raises InputError when it is not one
    return datetime.combine(value, time.max if end else time.min, tzinfo=timezone.utc)


def searchable(note: Note) -> tuple[str, ...]:
    """The fields a text filter looks in, lower-cased."""
    return (note.content.lower(), note.context.lower(), " ".join(note.keywords).lower(),
            " ".join(note.tags).lower(), note.id.lower())


@dataclass(frozen=True)
class NoteFilter:
    """The filters a person set. Empty values mean "no restriction"."""

    text: str = ""
    tags: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    since: TimeBound = None
    until: TimeBound = None
    needs_enrichment: bool | None = None

    @cached_property
    def _rule(self) -> Callable[[Note], bool]:
        """The bounds and the needle are worked out once, not once per note (10,000 notes a page run)."""
        lo, hi = time_bound(self.since, end=False), time_bound(self.until, end=True)
        needle = self.text.strip().lower()
        tags = {t.lower() for t in self.tags}
        sources = set(self.sources)

        def rule(note: Note) -> bool:
            if sources and note.source not in sources:
                return False
            if tags and not any(t.lower() in tags for t in note.tags):
                return False
            if self.needs_enrichment is not None and note.needs_enrichment != self.needs_enrichment:
                return False
            if needle and not any(needle in field for field in searchable(note)):
                return False
            if lo or hi:
                ts = note_time(note)
                if (lo and ts < lo) or (hi and ts > hi):
                    return False
            return True

        return rule

    def check(self) -> None:
        """Raise ``InputError`` now if a bound cannot be read (before any note is looked at)."""
        _ = self._rule

    def matches(self, note: Note) -> bool:
        return self._rule(note)

    def apply(self, notes: Iterable[Note]) -> list[Note]:
        """The matching notes, in the order given."""
        rule = self._rule
        return [n for n in notes if rule(n)]


# ---- what a filter can offer ---------------------------------------------------------------------------
def ranked_tags(notes: Mapping[str, Note], limit: int = 1000, keep: Iterable[str] = ()) -> list[str]:
    """The tags to offer in a filter: the ``limit`` most used (ties by name), then any of ``keep`` (the ones
    already chosen) that fell outside, so a choice never disappears from its own list."""
    counts = Counter(t for n in notes.values() for t in n.tags)
    ranked = [t for t, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]]
    return ranked + [t for t in dict.fromkeys(keep) if t not in ranked]


def day_range(notes: Mapping[str, Note]) -> tuple[date | None, date | None]:
    """The first and last day (UTC) any note's readable time falls on: the bounds of a date picker."""
    days = [t.astimezone(timezone.utc).date() for n in notes.values() if (t := try_parse_time(n.timestamp))]
    return (min(days), max(days)) if days else (None, None)
