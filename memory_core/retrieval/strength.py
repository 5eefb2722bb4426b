"""A note's memory strength: MemoryBank's forgetting curve, where recall reinforces a memory.

    R = exp(-Δt / S),   S = BASE_DAYS × (1 + n)

  - ``n``, the reinforcements: each time the note was recalled (``retrieval_count``: the chat's
    recall and a search count it) and each time the person told it again (``seen_count - 1``);
  - ``Δt``, days since the last reinforcement: the latest of when the note was told
    (``timestamp``), last recalled (``last_accessed``) and last told again (the history's
    ``seen_count`` change);
  - ``R`` in 0..1: 1 just after it was told or recalled, about 0.37 after ``S`` days.

Why this form: it is MemoryBank's (Ebbinghaus's exponential, with a strength that grows by one
step per recall and a clock reset by each recall), which the issue names; it needs only what the
store already keeps, so it is a pure function of a note and a time (no write on read). Why linear
growth and not spaced repetition's doubling: Memex does not schedule reviews, recalls come when the
person happens to ask, and several recalls in one conversation should not make a note permanent.
Why 30 days: a person talks to Memex every few days, not continuously; a fact told once and never
brought up again fades over weeks (below ``FADING`` after 36 days), one recalled twice over months.

Strength only breaks ties in ranking (``hit.rank_key``) and is shown (Notes table, Graph); it never
deletes, hides or rewrites a note: a fading memory is a hint for the person, not a decision.
"""

from __future__ import annotations

import math
from datetime import datetime, timezone

from ..notes import Note, try_parse_time

BASE_DAYS = 30.0  # S for a note told once and never recalled
FADING = 0.3  # below this a note is "fading" (the Notes table's filter, the Graph's faint nodes)
_DAY = 86_400.0


def reinforcements(note: Note) -> int:
    """Recalls plus retellings: each one adds ``BASE_DAYS`` to the note's stability."""
    return max(0, int(note.retrieval_count or 0)) + max(0, int(note.seen_count or 1) - 1)


def last_reinforced(note: Note) -> datetime | None:
    """When the note was last told, recalled or told again (None when no time can be read)."""
    times = [try_parse_time(note.timestamp), try_parse_time(note.last_accessed) if note.last_accessed else None]
    if (note.seen_count or 1) > 1:
        times.extend(try_parse_time(c.at) for c in note.history if c.field == "seen_count")
    found = [t for t in times if t is not None]
    return max(found) if found else None


def stability_days(note: Note) -> float:
    return BASE_DAYS * (1 + reinforcements(note))


def strength(note: Note, now: datetime | None = None) -> float:
    """R = exp(-Δt / S) at ``now`` (default: the wall clock), in 0..1; 1.0 for a note whose time cannot
    be read or lies ahead (nothing to decay from)."""
    when = last_reinforced(note)
    if when is None:
        return 1.0
    now = now or datetime.now(timezone.utc)
    now = now if now.tzinfo else now.replace(tzinfo=timezone.utc)
    days = max(0.0, (now - when).total_seconds() / _DAY)
    return math.exp(-days / stability_days(note))


def is_fading(note: Note, now: datetime | None = None) -> bool:
    return strength(note, now) < FADING
