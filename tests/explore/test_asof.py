"""The time-travel widget's rules without Streamlit (explore.asof): moments of a day, the change mark,
and the fold cache that keeps a fold while the memory is unchanged."""

from __future__ import annotations

from datetime import date
from types import SimpleNamespace

from memory_core.explore.asof import FoldCache, change_mark, moments, moments_on, thin
from memory_core.notes import Change, Link, Note


def test_moments_are_distinct_seconds_and_a_day_has_its_own() -> None:
    events = [SimpleNamespace(at=t) for t in ("2024-03-01T10:00:00.5+00:00", "2024-03-01T10:00:00Z",
                                              "2024-03-01T12:00:00+02:00", "not a time", None,
                                              "2024-03-02T09:00:00+00:00")]
    got = moments(events)
    assert got == ["2024-03-01T10:00:00+00:00", "2024-03-02T09:00:00+00:00"]  # 12:00+02:00 is 10:00 UTC
    assert moments_on(got, date(2024, 3, 2)) == ["2024-03-02T09:00:00+00:00"] and moments_on(got, date(2024, 3, 3)) == []
    many = [f"2024-03-01T10:{m:02d}:00+00:00" for m in range(60)]
    short = thin(many, 5)
    assert len(short) == 5 and short[0] == many[0] and short[-1] == many[-1]


def test_change_mark_moves_with_every_kind_of_write() -> None:
    a = Note("a", id="a", timestamp="2024-03-05T10:00:00+00:00")
    b = Note("b", id="b", timestamp="broken")
    notes = {"a": a, "b": b}
    mark = change_mark(notes)
    a.links.append(Link("b", "x"))
    assert change_mark(notes) != mark
    mark = change_mark(notes)
    a.history.append(Change("content", "a", "A", by="person", at="2024-03-01T08:00:00+00:00"))
    assert change_mark(notes) != mark


def test_the_fold_cache_computes_again_only_when_the_key_changes() -> None:
    storage: dict[str, object] = {}
    cache, calls = FoldCache(storage), []

    def fold() -> int:
        calls.append(1)
        return len(calls)

    assert cache.get("past", ("t1", (3, 4, 5)), fold) == 1
    assert cache.get("past", ("t1", (3, 4, 5)), fold) == 1  # a click: nothing refolded
    assert cache.get("past", ("t1", (4, 4, 5)), fold) == 2  # a write: folded once more
    assert cache.get("other", ("t1", (4, 4, 5)), fold) == 3 and len(storage) == 2  # slots are apart
