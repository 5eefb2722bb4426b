"""The moments a person can go back to: the distinct times at which the memory changed.

Why: "as of" folds the change log up to a time, so the only times worth offering are those at
which something was written (between two of them the memory is the same). A store can hold tens of
thousands of changes; the time control offers at most ``limit`` of them, always keeping the first
and the last, evenly spread in between, so a slider stays usable.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timezone
from typing import Any

from ..errors import InputError
from ..notes import parse_time

MOMENT_LIMIT = 400


def moments(events: Iterable[Any], limit: int = MOMENT_LIMIT) -> list[str]:
    """Distinct change times (ISO, to the second, UTC), oldest first, thinned to ``limit``."""
    seen: set[str] = set()
    for ev in events:
        try:
            t = parse_time(str(getattr(ev, "at", "")))
        except (InputError, TypeError, ValueError):
            continue
        seen.add(t.astimezone(timezone.utc).replace(microsecond=0).isoformat())
    out = sorted(seen)
    if len(out) <= limit or limit < 2:
        return out
    step = (len(out) - 1) / (limit - 1)
    return list(dict.fromkeys(out[round(i * step)] for i in range(limit)))


def label(moment: str) -> str:
    """How a moment reads on the slider: '2024-03-01 10:00:05'."""
    return moment[:19].replace("T", " ")
