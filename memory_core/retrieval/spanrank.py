"""Recall within a time span: the notes of the span the message names come first.

The rule (``apply_span``): a note inside the span gets ``SPAN_BOOST`` on top of its fused score, so
every note inside ranks above every note outside, and among themselves they keep the fused order
(what the words and the meaning say). Notes outside are kept, below: they are the answer when
nothing inside matches, which happens more than one would think. Why a boost and not a filter:
  - a note's time is when it was *told*: "Yesterday I went hiking", told on the 3rd, is about the
    2nd (a note's own "yesterday" is read too, see ``note_day``, but "the other day" is not);
  - the person misremembers a date by a day, or the span read was a guess (no year given, and no
    memories on that day);
  - a filter that empties recall leaves the model with nothing, a boost leaves it the best of the rest.
Why add notes that were no candidate: "What did I do on May 2nd?" shares no word and little meaning
with "I went hiking with Sam" (cosine 0.27), yet every note of that day answers it. So the notes of
the span (at most ``SPAN_POOL``, the closest in meaning) join the candidates, below the ones the
signals found. The chat's relevance floor lets a note inside the span through (the time named is
its relevance, see ``floor.above_floor``); the prompt's limits still cap what the model gets.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

import numpy as np

from ..notes import Note, try_parse_time
from .hit import Hit
from .timespan import TimeSpan

if TYPE_CHECKING:
    from ..store import Store

SPAN_BOOST = 1.0  # fused scores lie in 0..1: +1 puts every note inside the span above every note outside
SPAN_POOL = 100  # notes of the span added as candidates at most (a busy day or a whole year)
TIME_SIGNAL = "time"  # the signal a hit inside the span carries (1.0), shown in the trace


_DAY_BEFORE = re.compile(r"\b(?:(?P<two>the day before yesterday)|yesterday|last night)\b", re.IGNORECASE)


@functools.lru_cache(maxsize=65536)
def note_day(content: str, timestamp: str) -> TimeSpan | None:
    """The earlier day a note tells of ("yesterday", "last night", "the day before yesterday"),
    counted from when it was told; None when it names none.

    Why only these, and by arithmetic: they are what people say of the day before when they tell
    it ("Yesterday I went hiking"), and a check every note goes through must cost microseconds
    (dateparser on each of 10,000 notes took 32 s, once per process). Wider phrases ("in 2022")
    must not put a note inside every day of them anyway."""
    found = _DAY_BEFORE.search(content[:500])
    if found is None:
        return None
    told = try_parse_time(timestamp)
    if told is None:
        return None
    day = told.date() - timedelta(days=2 if found.group("two") else 1)
    start = datetime.combine(day, datetime.min.time(), tzinfo=told.tzinfo)
    return TimeSpan(start, start + timedelta(days=1), found.group(0), "day")


def _utc_bounds(span: TimeSpan) -> tuple[str, str, str]:
    """The span as UTC ISO strings (start, end, end + 2 days): a UTC timestamp, the store's form, is
    compared as text, unparsed; a note told after end + 2 days cannot tell of a day inside."""
    utc = [t.astimezone(timezone.utc) for t in (span.start, span.end, span.end + timedelta(days=2))]
    return utc[0].isoformat(), utc[1].isoformat(), utc[2].isoformat()


def in_span(note: Note, span: TimeSpan, bounds: tuple[str, str, str] | None = None) -> bool:
    """Told inside the span, or telling of a day inside it."""
    ts = note.timestamp
    lo, hi, late = bounds or _utc_bounds(span)
    if len(ts) == 25 and ts.endswith("+00:00") and ts[10] == "T":  # the store's form: no parsing (~50x faster)
        if lo <= ts < hi:
            return True
        if ts < hi or ts >= late:  # told before the span ended, or too long after to say "yesterday" of it
            return False
    elif span.contains(ts):
        return True
    day = note_day(note.content, ts)
    return day is not None and day.start < span.end and day.end > span.start


def apply_span(hits: list[Hit], notes: Mapping[str, Note], span: TimeSpan, store: Store,
               query_vec: Any) -> list[Hit]:
    """``hits`` with the notes inside ``span`` boosted, and the span's other notes added below them.
    Without any note inside the span the ranking is left as it was."""
    bounds = _utc_bounds(span)
    inside = {nid for nid, note in notes.items() if in_span(note, span, bounds)}
    if not inside:
        return hits
    have = {h.note.id for h in hits}
    out = list(hits)
    missing = [nid for nid in sorted(inside) if nid not in have]
    if missing:
        sims = np.asarray(store.vectors(missing), dtype=np.float32) @ np.asarray(query_vec, dtype=np.float32)
        order = np.argsort(-sims, kind="stable")[:SPAN_POOL]
        for i in order:
            sim = float(sims[i])
            # Below every candidate the signals found, by meaning among themselves.
            out.append(Hit(notes[missing[i]], 1e-3 * max(0.0, sim), [f"dense: similarity {sim:.2f}"],
                           dense=max(0.0, sim), raw={"dense": sim}, signals={"dense": 0.0}))
    reason = f"time: inside {span.label} (read from \u201c{span.phrase}\u201d)"
    for hit in out:
        if hit.note.id in inside:
            hit.score += SPAN_BOOST
            hit.signals = {**hit.signals, TIME_SIGNAL: 1.0}
            hit.reasons = [*hit.reasons, reason]
    return out


def is_in_span(hit: Hit) -> bool:
    """Whether recall put this hit inside the time span the message named."""
    return hit.signals.get(TIME_SIGNAL, 0.0) > 0.0
