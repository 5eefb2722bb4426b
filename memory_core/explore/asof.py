"""The moments a person can go back to, and keeping what was folded for them.

Why: "as of" folds the change log up to a time, so the only times worth offering are those at
which something was written (between two of them the memory is the same). A store can hold tens of
thousands of changes; the time control offers the moments of one day at a time, at most ``limit``
of them, always keeping the first and the last, evenly spread in between, so a slider stays usable.

Folding the log at 10,000 notes takes seconds, so a folded view is kept (per browser session, in a
``FoldCache`` over the session's state) and reused while ``change_mark`` of the memory is the same:
a click or a filter change refolds nothing, a write anywhere refolds once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, MutableMapping
from datetime import date, timezone
from typing import Any, TypeVar

from ..notes import Note, try_parse_time

MOMENT_LIMIT = 400
T = TypeVar("T")


def moments(events: Iterable[Any], limit: int = MOMENT_LIMIT) -> list[str]:
    """Distinct change times (ISO, to the second, UTC), oldest first, thinned to ``limit``."""
    seen: set[str] = set()
    for ev in events:
        t = try_parse_time(getattr(ev, "at", None))
        if t is not None:
            seen.add(t.astimezone(timezone.utc).replace(microsecond=0).isoformat())
    return thin(sorted(seen), limit)


def thin(ordered: list[str], limit: int = MOMENT_LIMIT) -> list[str]:
    """At most ``limit`` of ``ordered``, the first and the last kept, the rest evenly spread."""
    if len(ordered) <= limit or limit < 2:
        return ordered
    step = (len(ordered) - 1) / (limit - 1)
    return list(dict.fromkeys(ordered[round(i * step)] for i in range(limit)))


def moments_on(all_moments: Iterable[str], day: date, limit: int = MOMENT_LIMIT) -> list[str]:
    """The moments that fall on ``day`` (UTC), oldest first, thinned to ``limit``."""
    prefix = day.isoformat()
    return thin([m for m in all_moments if m.startswith(prefix)], limit)


def label(moment: str) -> str:
    """How a moment reads on the slider: '2024-03-01 10:00:05'."""
    return moment[:19].replace("T", " ")


def change_mark(notes: Mapping[str, Note]) -> tuple[int, int, int]:
    """A cheap fingerprint of the memory now: any write adds a note, a history entry or a link (an edit
    adds a history entry, a delete removes a note), so an unchanged mark means nothing to refold."""
    return (len(notes), sum(len(n.history) for n in notes.values()), sum(len(n.links) for n in notes.values()))


class FoldCache:
    """One remembered value per slot, computed again only when the slot's key changes.

    ``storage`` is any dict-like that lives as long as the values should (a page passes its session
    state, so each browser tab keeps its own folds and drops them when it closes)."""

    def __init__(self, storage: MutableMapping[str, Any], prefix: str = "_fold_") -> None:
        self.storage = storage
        self.prefix = prefix

    def get(self, slot: str, key: Any, compute: Callable[[], T]) -> T:
        name = self.prefix + slot
        held = self.storage.get(name)
        if held is not None and held[0] == key:
            return held[1]
        value = compute()
        self.storage[name] = (key, value)
        return value
