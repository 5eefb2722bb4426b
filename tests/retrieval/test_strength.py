"""Memory strength (MemoryBank's curve): decays with time, rises with recall and retelling, breaks ties only."""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone

from memory_core.notes import Change, Note
from memory_core.retrieval.hit import Hit, finalize
from memory_core.retrieval.strength import BASE_DAYS, FADING, is_fading, stability_days, strength

T0 = datetime(2024, 3, 1, 12, tzinfo=timezone.utc)


def told(content: str = "I keep bees.", **fields) -> Note:
    return Note(content, timestamp=T0.isoformat(), **fields)


def test_strength_decays_with_time_since_it_was_told() -> None:
    note = told()
    values = [strength(note, T0 + timedelta(days=d)) for d in (0, 1, 10, 30, 100)]
    assert values[0] == 1.0
    assert all(a > b for a, b in zip(values, values[1:]))
    assert math.isclose(values[3], math.exp(-1), rel_tol=1e-9)  # S = BASE_DAYS for a note never recalled
    assert not is_fading(note, T0 + timedelta(days=30)) and is_fading(note, T0 + timedelta(days=40))


def test_a_recall_resets_the_clock_and_slows_the_fading() -> None:
    later = T0 + timedelta(days=60)
    plain = told()
    recalled = told(retrieval_count=1, last_accessed=(T0 + timedelta(days=50)).isoformat())
    assert strength(recalled, later) > strength(plain, later)
    assert stability_days(recalled) == 2 * BASE_DAYS
    # the same last recall but more of them: stronger still
    often = told(retrieval_count=4, last_accessed=(T0 + timedelta(days=50)).isoformat())
    assert strength(often, later) > strength(recalled, later)


def test_telling_it_again_counts_from_when_it_was_told_again() -> None:
    later = T0 + timedelta(days=60)
    again = told(seen_count=2)
    again.history.append(Change("seen_count", 1, 2, "system", at=(T0 + timedelta(days=55)).isoformat()))
    assert strength(again, later) > strength(told(), later)
    assert math.isclose(strength(again, later), math.exp(-5 / (2 * BASE_DAYS)), rel_tol=1e-9)


def test_unreadable_or_future_times_do_not_decay_and_reading_writes_nothing() -> None:
    broken = Note("x", timestamp="not a time")
    assert strength(broken, T0) == 1.0
    future = told()
    assert strength(future, T0 - timedelta(days=3)) == 1.0
    before = (future.retrieval_count, future.last_accessed, len(future.history))
    strength(future, T0 + timedelta(days=400))
    assert (future.retrieval_count, future.last_accessed, len(future.history)) == before
    assert 0.0 < strength(future, T0 + timedelta(days=400)) < FADING


def test_strength_breaks_ties_only() -> None:
    old = Note("I keep bees.", timestamp="2020-01-01T00:00:00+00:00")
    fresh = Note("I keep bees in the garden.", timestamp="2020-01-01T00:00:00+00:00", retrieval_count=3,
                 last_accessed=datetime.now(timezone.utc).isoformat())
    old.id, fresh.id = "a-old", "b-fresh"  # without strength, equal scores and times would go by id: old first
    notes = {n.id: n for n in (old, fresh)}
    tied = finalize([Hit(old, 0.5), Hit(fresh, 0.5)], notes, 2)
    assert [h.note.id for h in tied] == [fresh.id, old.id]  # equal scores: the stronger memory first
    apart = finalize([Hit(old, 0.5000001), Hit(fresh, 0.5)], notes, 2)
    assert [h.note.id for h in apart] == [old.id, fresh.id]  # a better match always wins
